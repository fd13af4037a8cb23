"""Settings: the environment over ``config.toml`` over the defaults, and clear refusals."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dmledger import settings as config
from dmledger.errors import ConfigError

FIELDS = [name for name in config.Settings.model_fields]


@pytest.fixture(autouse=True)
def no_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in FIELDS:
        monkeypatch.delenv(f"DMLEDGER_{name.upper()}", raising=False)


def _home(tmp_path: Path, text: str) -> Path:
    (tmp_path / config.CONFIG_NAME).write_text(text, encoding="utf-8")
    return tmp_path


BASE = 'operator = "Ann"\ncloud_url = "sqlite:///team.db"\n'


def test_the_file_is_read_and_defaults_fill_the_rest(tmp_path: Path) -> None:
    settings = config.load(_home(tmp_path, BASE + "sync_interval = 5\n"))
    assert (settings.operator, settings.cloud_url) == ("Ann", "sqlite:///team.db")
    assert settings.sync_interval == 5.0
    assert settings.tombstone_retention_days == 90


def test_the_environment_overrides_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = _home(tmp_path, BASE + 'wallet_dir = "/from/file"\n')
    monkeypatch.setenv("DMLEDGER_CLOUD_URL", "postgresql+psycopg://ann@db/team")
    monkeypatch.setenv("DMLEDGER_WALLET_DIR", "/from/env")
    monkeypatch.setenv("DMLEDGER_SYNC_INTERVAL", "12.5")
    settings = config.load(home)
    assert settings.cloud_url == "postgresql+psycopg://ann@db/team"
    assert settings.wallet_dir == "/from/env"
    assert settings.sync_interval == 12.5
    # Reading the file alone (to rewrite it) leaves every override out.
    alone = config.load(home, environment=False)
    assert (alone.cloud_url, alone.wallet_dir, alone.sync_interval) == (
        "sqlite:///team.db",
        "/from/file",
        30.0,
    )


def test_an_empty_variable_is_no_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DMLEDGER_CLOUD_URL", "")
    assert config.load(_home(tmp_path, BASE)).cloud_url == "sqlite:///team.db"


def test_settings_built_directly_read_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # init and join write what they chose, never an override that happens to be set.
    monkeypatch.setenv("DMLEDGER_OPERATOR", "Someone else")
    monkeypatch.setenv("DMLEDGER_SYNC_INTERVAL", "1")
    settings = config.Settings(operator="Ann", cloud_url="sqlite:///x.db")
    assert (settings.operator, settings.sync_interval) == ("Ann", 30.0)


def test_keys_from_a_newer_version_are_ignored(tmp_path: Path) -> None:
    assert config.load(_home(tmp_path, BASE + "colour = 'blue'\n")).operator == "Ann"


def test_a_bad_value_in_the_file_is_named_with_its_rule(tmp_path: Path) -> None:
    home = _home(tmp_path, BASE + "sync_interval = -1\n")
    with pytest.raises(ConfigError) as caught:
        config.load(home)
    assert str(caught.value) == (
        f"{home / config.CONFIG_NAME} has unusable settings: "
        "sync_interval = -1: Input should be greater than 0"
    )


def test_a_bad_override_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DMLEDGER_TOMBSTONE_RETENTION_DAYS", "soon")
    with pytest.raises(ConfigError, match="DMLEDGER_TOMBSTONE_RETENTION_DAYS = 'soon': Input"):
        config.load(_home(tmp_path, BASE))


def test_a_missing_operator_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unusable settings: operator: Field required"):
        config.load(_home(tmp_path, 'cloud_url = "sqlite:///x.db"\n'))


@pytest.mark.parametrize(
    "content", [b'operator = "Ann\n', b'operator = "\xff"\n'], ids=["not TOML", "not UTF-8"]
)
def test_a_file_that_cannot_be_read_is_refused_with_its_path(
    tmp_path: Path, content: bytes
) -> None:
    (tmp_path / config.CONFIG_NAME).write_bytes(content)
    with pytest.raises(
        ConfigError, match=re.escape(f"{tmp_path / config.CONFIG_NAME} cannot be read: ")
    ):
        config.load(tmp_path)


def test_no_file_is_no_home(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no DM Ledger home at .*dmledger init --operator NAME"):
        config.load(tmp_path)
