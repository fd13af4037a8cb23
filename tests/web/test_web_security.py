"""Security: the Host allow-list, the API token, CSRF, escaping, headers, no secrets,
and ``serve`` binding to 127.0.0.1."""

from __future__ import annotations

import html
import logging
import os
import re
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web_support import BASE_URL, TestClient, csrf_of, flash_of, make_ledger, post_form, seed_team

from dmledger import settings as config
from dmledger.app.ledger import Ledger
from dmledger.cli.serve_cmd import allowed_hosts_for, is_loopback
from dmledger.web.app import create_app
from dmledger.web.limits import API_BODY_MAX, FORM_BODY_MAX, UPLOAD_MAX
from dmledger.web.server import free_port

DMLEDGER = str(Path(sys.executable).parent / "dmledger")
XSS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')


# -- Host header ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/leads", "/api/v1/sync", "/api/v1/openapi.json"])
def test_a_foreign_host_header_is_refused(
    client: TestClient, auth: dict[str, str], path: str
) -> None:
    response = client.get(path, headers={**auth, "Host": "evil.example"})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "HostRefused"
    assert "evil.example" in response.json()["error"]["message"]


def test_a_foreign_host_cannot_post_either(client: TestClient) -> None:
    token = csrf_of(client)
    response = client.post(
        "/lead/glow.skin/status",
        data={"status": "hot", "csrf_token": token},
        headers={"Host": "evil.example:8765"},
    )
    assert response.status_code == 400


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:8765", "localhost:8765", "LOCALHOST"])
def test_local_host_headers_are_allowed(client: TestClient, host: str) -> None:
    assert client.get("/", headers={"Host": host}).status_code == 200


def test_serve_allows_the_host_it_was_told_to_bind() -> None:
    assert allowed_hosts_for("127.0.0.1") == ["127.0.0.1", "localhost", "[::1]"]
    assert "192.168.1.20" in allowed_hosts_for("192.168.1.20")
    assert is_loopback("::1") and not is_loopback("0.0.0.0")


# -- the API token ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer "},
    ],
)
def test_the_api_needs_the_right_bearer_token(client: TestClient, headers: dict[str, str]) -> None:
    for method, path in (
        ("GET", "/api/v1/prospects/glow.skin"),
        ("GET", "/api/v1/prospects"),
        ("PATCH", "/api/v1/prospects/glow.skin"),
        ("POST", "/api/v1/outreach"),
        ("GET", "/api/v1/sync"),
        ("POST", "/api/v1/sync"),
    ):
        response = client.request(method, path, headers=headers, json={})
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["type"] == "AuthRequired"


def test_the_token_is_not_accepted_in_the_query_string(client: TestClient, token: str) -> None:
    assert client.get("/api/v1/sync", params={"token": token}).status_code == 401


def test_a_page_session_cookie_does_not_open_the_api(client: TestClient) -> None:
    client.get("/")
    assert client.cookies.get("dml_session")
    assert client.get("/api/v1/sync").status_code == 401


# -- CSRF ----------------------------------------------------------------------------------------


def test_a_form_post_without_the_token_is_refused(client: TestClient, ledger: Ledger) -> None:
    client.get("/")
    response = client.post("/lead/glow.skin/status", data={"status": "rejected"})
    assert response.status_code == 403
    assert ledger.card("glow.skin").status != "rejected"


def test_a_cross_site_post_is_refused_even_with_a_token(client: TestClient, ledger: Ledger) -> None:
    token = csrf_of(client)
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # another app on another port of this machine
    ):
        response = client.post(
            "/lead/glow.skin/status",
            data={"status": "rejected", "csrf_token": token},
            headers=headers,
        )
        assert response.status_code == 403, headers
    assert ledger.card("glow.skin").status != "rejected"


def test_a_token_from_another_session_is_refused(app: object, ledger: Ledger) -> None:
    with (
        TestClient(app, base_url=BASE_URL) as mine,  # type: ignore[arg-type]
        TestClient(app, base_url=BASE_URL) as theirs,  # type: ignore[arg-type]
    ):
        stolen = csrf_of(theirs)
        csrf_of(mine)
        response = mine.post(
            "/lead/glow.skin/status", data={"status": "rejected", "csrf_token": stolen}
        )
    assert response.status_code == 403
    assert ledger.card("glow.skin").status != "rejected"


def test_a_same_origin_post_with_the_token_works(client: TestClient) -> None:
    token = csrf_of(client)
    response = client.post(
        "/lead/glow.skin/status",
        data={"status": "warm", "csrf_token": token},
        headers={"Origin": BASE_URL, "Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 303


# -- escaping ----------------------------------------------------------------------------


def test_user_text_is_escaped_everywhere_it_is_shown(
    client: TestClient, ledger: Ledger, auth: dict[str, str]
) -> None:
    for payload in XSS:
        post_form(client, "/lead/glow.skin/note", {"note": payload})
        client.post("/api/v1/outreach", json={"to": "glow.skin", "message": payload}, headers=auth)
    ledger.add_operator(XSS[1][:90])
    ledger.add_operator("<script>alert(1)</script>")
    ledger.sync()
    pages = [
        client.get("/", params={"q": "glow.skin"}).text,
        client.get("/lead/glow.skin").text,
        client.get("/lead/glow.skin/timeline").text,
        client.get("/leads").text,
        client.get("/admin").text,
        client.get("/team", params={"period": "all"}).text,
        client.get("/", params={"q": XSS[0]}).text,  # an invalid handle is echoed in the error
        client.get("/", params={"q": XSS[1]}).text,
    ]
    for text in pages:
        assert "<script>alert(1)</script>" not in text
        assert "<img src=x onerror" not in text
        assert "onerror=alert(1)>" not in text.replace("onerror=alert(1)&gt;", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[4]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[6]


def test_a_hostile_next_field_cannot_redirect_away(client: TestClient) -> None:
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = post_form(client, "/lead/glow.skin/note", {"note": "hi", "next": target})
        assert response.headers["location"] == "/?q=glow.skin", target


# -- headers -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/leads", "/admin", "/api/v1/openapi.json", "/nope"])
def test_security_headers_on_every_response(client: TestClient, path: str) -> None:
    headers = client.get(path).headers
    policy = headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert (
        "script-src 'self'" in policy
        and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    )
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"


def test_pages_carry_no_inline_script(client: TestClient) -> None:
    for path in ("/", "/leads", "/lead/glow.skin", "/team", "/admin"):
        text = client.get(path).text
        scripts = re.findall(r"<script\b[^>]*>", text)
        assert scripts and all('src="/static/' in tag for tag in scripts), path
        assert not re.search(r"\son[a-z]+=", text), path


# -- secrets -----------------------------------------------------------------------------


def test_no_secret_reaches_a_page_an_error_or_a_log(
    home: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    planted = "Planted-Cloud-Password-7c1e"
    wallet = "Planted-Wallet-Password-93ab"
    monkeypatch.setenv("DMLEDGER_CLOUD_PASSWORD", planted)
    monkeypatch.setenv("DMLEDGER_WALLET_PASSWORD", wallet)
    # A PostgreSQL cloud that cannot be reached, so errors happen and get shown.
    ledger = make_ledger(home, cloud_url="postgresql+psycopg://sarah@127.0.0.1:1/team")
    ledger.log_dm("glow.skin", "Hi")
    token = config.api_token(home)
    auth = {"Authorization": f"Bearer {token}"}
    caplog.set_level(logging.DEBUG)
    app = create_app(ledger, token=token, run_sync_loop=False)
    bodies: list[str] = []
    try:
        with TestClient(app, base_url=BASE_URL, follow_redirects=True) as client:
            for path in (
                "/",
                "/?q=glow.skin",
                "/leads",
                "/lead/glow.skin",
                "/lead/glow.skin/timeline",
                "/team",
                "/admin",
                "/admin?check=true",
                "/ui/sync",
                "/leads/import",
                "/nope",
                "/api/v1/openapi.json",
            ):
                bodies.append(client.get(path).text)
            bodies.append(post_form(client, "/sync", {"next": "/"}).text)
            bodies.append(post_form(client, "/admin/operators", {"name": "Zed"}).text)
            for path in ("/api/v1/sync", "/api/v1/prospects/glow.skin", "/api/v1/prospects"):
                bodies.append(client.get(path, headers=auth).text)
            bodies.append(client.post("/api/v1/sync", headers=auth).text)
            bodies.append(client.get("/api/v1/sync", headers=auth).text)
            bodies.append(client.get("/api/v1/sync", headers={"Authorization": "Bearer x"}).text)
    finally:
        ledger.close()
    shown = "\n".join(bodies) + "\n" + caplog.text
    assert "unreachable" in shown  # the errors did happen and were shown
    for secret in (planted, wallet, token):
        assert secret not in shown


# -- serve -------------------------------------------------------------------------------


def _listening(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited: {process.communicate()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("serve never listened")


def _serve(home: Path, *args: str) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    env = {**os.environ, "DMLEDGER_HOME": str(home)}
    process = subprocess.Popen(
        [DMLEDGER, "serve", "--no-browser", "--port", str(port), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, port


def _bound_addresses(pid: int, port: int) -> set[str]:
    """The local addresses a process listens on for ``port`` (from /proc/net/tcp)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        address, state, inode = fields[1], fields[3], fields[9]
        hex_ip, hex_port = address.split(":")
        if state == "0A" and inode in inodes and int(hex_port, 16) == port:
            found.add(socket.inet_ntoa(bytes.fromhex(hex_ip)[::-1]))
    return found


def test_serve_binds_127_0_0_1_by_default_and_answers_with_the_token(home: Path) -> None:
    seed_team(make_ledger(home))
    process, port = _serve(home)
    try:
        _listening(port, process)
        assert _bound_addresses(process.pid, port) == {"127.0.0.1"}
        import httpx

        token = config.api_token(home)
        answer = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/prospects/glow.skin",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 200 and answer.json()["handle"] == "glow.skin"
        refused = httpx.get(f"http://127.0.0.1:{port}/", headers={"Host": "evil.example"})
        assert refused.status_code == 400
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/" in out
    assert "warning" not in err.lower()
    assert config.api_token(home) not in out + err


def test_serve_on_another_address_warns(home: Path) -> None:
    make_ledger(home).close()
    process, port = _serve(home, "--host", "0.0.0.0")
    try:
        _listening(port, process)
        assert _bound_addresses(process.pid, port) == {"0.0.0.0"}
    finally:
        process.terminate()
        _out, err = process.communicate(timeout=30)
    assert "warning" in err.lower() and "0.0.0.0" in err


def test_serve_refuses_a_port_in_use(home: Path) -> None:
    make_ledger(home).close()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run(
            [DMLEDGER, "serve", "--no-browser", "--port", str(port)],
            env={**os.environ, "DMLEDGER_HOME": str(home)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert "already in use" in html.unescape(result.stderr)


# -- issue 14: hostile input found by probing ------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/prospects?search=a%00b",
        "/leads?q=a%00b",
        "/leads/count?q=a%00b",
        "/leads/export.csv?q=a%00b",
        "/api/v1/prospects?search=a%00bcd",  # long enough for the trigram index
        "/leads?q=%1b%5b31m",
    ],
)
def test_a_control_character_in_a_search_is_a_clear_422(
    client: TestClient, auth: dict[str, str], path: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = client.get(path, headers=auth)
    assert response.status_code == 422, response.text
    assert "control characters" in html.unescape(response.text)
    assert "SELECT" not in caplog.text


@pytest.mark.parametrize(
    "path",
    [
        "/leads?end=9999-12-31",
        "/leads/count?end=9999-12-31",
        "/leads/export.csv?end=9999-12-31",
        "/team?period=custom&start=2026-01-01&end=9999-12-31",
    ],
)
def test_the_calendars_last_day_is_refused_not_a_500(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 422, response.text
    assert "9999-12-30" in html.unescape(response.text)


def test_the_day_before_the_calendars_end_still_works(client: TestClient) -> None:
    assert client.get("/leads", params={"end": "9999-12-30"}).status_code == 200


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:8765@evil.com",
        "localhost:evil",
        "localhost:",
        "localhost:99999",
        "127.0.0.1:80:80",
        "127.0.0.1 evil.com",
        "[::1]evil",
        "evil.com#127.0.0.1",
        "localhost/evil",
        "",
    ],
)
def test_a_host_header_that_is_not_host_and_port_is_refused(client: TestClient, host: str) -> None:
    response = client.get("/", headers={"Host": host})
    assert response.status_code == 400, host
    assert response.json()["error"]["type"] == "HostRefused"


def test_a_bracketed_ipv6_loopback_host_is_allowed(app: object, ledger: Ledger) -> None:
    local = create_app(
        ledger,
        token=config.api_token(ledger.home),
        allowed_hosts=allowed_hosts_for("::1"),
        run_sync_loop=False,
    )
    with TestClient(local, base_url=BASE_URL) as client:
        assert client.get("/", headers={"Host": "[::1]:8765"}).status_code == 200
        assert client.get("/", headers={"Host": "[::1]x"}).status_code == 400


def test_a_tokened_post_with_only_a_cross_site_referer_is_refused(
    client: TestClient, ledger: Ledger
) -> None:
    token = csrf_of(client)
    for referer in ("http://evil.example/page", "http://127.0.0.1.evil.example/", "null"):
        response = client.post(
            "/lead/glow.skin/status",
            data={"status": "rejected", "csrf_token": token},
            headers={"Referer": referer},
        )
        assert response.status_code == 403, referer
    assert ledger.card("glow.skin").status != "rejected"
    same = client.post(
        "/lead/glow.skin/status",
        data={"status": "warm", "csrf_token": token},
        headers={"Referer": f"{BASE_URL}/lead/glow.skin"},
    )
    assert same.status_code == 303


# -- size limits -------------------------------------------------------------------------


def test_an_api_body_over_the_limit_is_a_413_before_it_is_read(
    client: TestClient, auth: dict[str, str], ledger: Ledger
) -> None:
    huge = b'{"to": "big.body", "message": "' + b"x" * (API_BODY_MAX + 1) + b'"}'
    response = client.post(
        "/api/v1/outreach", content=huge, headers={**auth, "content-type": "application/json"}
    )
    assert response.status_code == 413
    assert "1 MiB" in response.json()["error"]["message"]
    assert not ledger.card("big.body").known


def test_a_streamed_api_body_without_a_length_is_cut_off_at_the_limit(
    client: TestClient, auth: dict[str, str]
) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the bytes themselves are counted
        yield b'{"to": "big.body", "message": "'
        for _ in range(100):
            yield b"x" * (100 * 1024)
        yield b'"}'

    response = client.post(
        "/api/v1/outreach", content=chunks(), headers={**auth, "content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "HTTPError"


def test_a_form_post_over_the_limit_is_refused_with_the_limit_named(client: TestClient) -> None:
    token = csrf_of(client)
    response = client.post(
        "/lead/glow.skin/note",
        data={"note": "x" * (FORM_BODY_MAX + 1), "csrf_token": token},
        headers={"Referer": f"{BASE_URL}/lead/glow.skin"},
    )
    assert "larger than the 1 MiB" in flash_of(client, response)


def test_an_upload_over_the_limit_is_refused_and_points_to_the_cli(
    client: TestClient, ledger: Ledger
) -> None:
    token = csrf_of(client, "/leads/import")
    body = b"handle\n" + b"too.big.upload\n" * (UPLOAD_MAX // 15 + 1)
    response = client.post(
        "/leads/import", files={"file": ("big.csv", body)}, data={"csrf_token": token}
    )
    assert response.status_code == 413
    text = html.unescape(response.text)
    assert "50 MiB" in text and "dmledger import FILE.csv" in text
    assert not ledger.card("too.big.upload").known


def test_an_upload_under_the_limit_is_imported(client: TestClient, ledger: Ledger) -> None:
    token = csrf_of(client, "/leads/import")
    rows = b"handle\n" + b"".join(b"lead.%d\n" % i for i in range(2000))
    response = client.post(
        "/leads/import", files={"file": ("leads.csv", rows)}, data={"csrf_token": token}
    )
    assert response.status_code == 200
    assert ledger.card("lead.1999").known


def test_a_multipart_form_with_more_than_one_file_is_refused(client: TestClient) -> None:
    token = csrf_of(client, "/leads/import")
    response = client.post(
        "/leads/import",
        files=[("file", ("a.csv", b"handle\na.b\n")), ("file", ("b.csv", b"handle\nc.d\n"))],
        data={"csrf_token": token},
    )
    assert response.status_code == 400
    assert "Maximum number of files is 1" in response.text


# -- the page login --------------------------------------------------------------------


@pytest.fixture
def secret(ledger: Ledger) -> str:
    return config.page_secret(ledger.home, create=True)


@pytest.fixture
def guarded(ledger: Ledger, token: str, secret: str) -> Iterator[TestClient]:
    app = create_app(ledger, token=token, run_sync_loop=False, page_secret=secret)
    with TestClient(app, base_url=BASE_URL, follow_redirects=False) as test_client:
        yield test_client


def _log_in(client: TestClient, secret: str, next_path: str = "/") -> Any:
    token = csrf_of(client, f"/login?next={next_path}")
    return client.post("/login", data={"secret": secret, "next": next_path, "csrf_token": token})


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/leads",
        "/leads/export.csv",
        "/leads/count",
        "/lead/glow.skin",
        "/admin",
        "/ui/sync",
        "/nope",
    ],
)
def test_with_the_page_login_on_no_page_opens_without_it(guarded: TestClient, path: str) -> None:
    response = guarded.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")
    assert "Loved your last post" not in response.text and "marcus" not in response.text


def test_a_form_post_without_the_login_is_refused(guarded: TestClient, ledger: Ledger) -> None:
    token = csrf_of(guarded, "/login")
    response = guarded.post(
        "/lead/glow.skin/status", data={"status": "rejected", "csrf_token": token}
    )
    assert response.status_code == 401
    assert ledger.card("glow.skin").status != "rejected"


def test_the_page_secret_opens_the_pages_for_that_session_only(
    guarded: TestClient, secret: str, app: object, ledger: Ledger, token: str
) -> None:
    wrong = _log_in(guarded, "not-the-secret")
    assert wrong.status_code == 401 and "page-secret" in html.unescape(wrong.text)
    assert guarded.get("/leads").status_code == 303
    right = _log_in(guarded, secret, "/leads")
    assert right.status_code == 303 and right.headers["location"] == "/leads"
    assert guarded.get("/leads").status_code == 200
    assert guarded.get("/leads/export.csv").status_code == 200
    # CSRF still applies once logged in.
    assert guarded.post("/lead/glow.skin/status", data={"status": "hot"}).status_code == 403
    assert post_form(guarded, "/lead/glow.skin/status", {"status": "hot"}).status_code == 303
    # The login cookie is bound to its session: copied into another browser it is useless.
    stolen = guarded.cookies.get("dml_login")
    other_app = create_app(ledger, token=token, run_sync_loop=False, page_secret=secret)
    with TestClient(other_app, base_url=BASE_URL, follow_redirects=False) as other:
        other.get("/login")
        other.cookies.set("dml_login", stolen or "")
        assert other.get("/leads").status_code == 303
    # Logging out closes the pages again.
    assert post_form(guarded, "/logout", {}, page="/leads").status_code == 303
    assert guarded.get("/leads").status_code == 303


def test_the_login_form_needs_its_csrf_token(guarded: TestClient, secret: str) -> None:
    guarded.get("/login")
    assert guarded.post("/login", data={"secret": secret}).status_code == 403


def test_the_api_keeps_its_token_with_the_page_login_on(
    guarded: TestClient, auth: dict[str, str]
) -> None:
    assert guarded.get("/api/v1/prospects/glow.skin", headers=auth).status_code == 200
    assert guarded.get("/api/v1/prospects/glow.skin").status_code == 401


def test_the_page_secret_is_owner_only_and_never_shown(ledger: Ledger, secret: str) -> None:
    path = ledger.home / config.PAGE_SECRET_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert config.page_secret(ledger.home) == secret != config.api_token(ledger.home)


def test_serve_off_loopback_turns_the_page_login_on(home: Path) -> None:
    seed_team(make_ledger(home))
    import httpx

    for args, login_on in (
        (("--host", "0.0.0.0"), True),
        ((), False),
        (("--login",), True),
        (("--host", "0.0.0.0", "--no-login"), False),
    ):
        process, port = _serve(home, *args)
        try:
            _listening(port, process)
            answer = httpx.get(f"http://127.0.0.1:{port}/leads")
        finally:
            process.terminate()
            out, err = process.communicate(timeout=30)
        assert (answer.status_code == 303) is login_on, (args, answer.status_code)
        assert ("page-secret" in out) is login_on, out
        assert config.page_secret(home) not in out + err


def test_names_with_control_characters_are_refused_by_the_admin_form(
    client: TestClient, ledger: Ledger
) -> None:
    response = post_form(client, "/admin/operators", {"name": "bad\x01\x1bname"}, page="/admin")
    assert response.status_code == 422
    assert "contains control characters" in html.unescape(response.text)
    assert not any("bad" in name for name in ledger.list_operators())
