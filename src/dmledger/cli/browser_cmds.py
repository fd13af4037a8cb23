"""``browser install|uninstall|status`` and ``native-host``: the extension's way in."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dmledger.cli.render import escape
from dmledger.cli.state import emit_json, err, out, state

app = typer.Typer(
    help="The browser extension: install its native host for this home, remove it, or "
    "see what is installed where.",
    no_args_is_help=True,
)

BrowserOption = Annotated[
    str,
    typer.Option(
        "--browser",
        help="chrome, chromium, edge, brave, firefox, or all (the default).",
        show_default=False,
    ),
]
ProfileOption = Annotated[
    Path | None,
    typer.Option(
        "--profile",
        help="A Chromium browser's user-data folder (--user-data-dir): write the manifest "
        "into DIR/NativeMessagingHosts instead of the browser's per-user location.",
        file_okay=False,
    ),
]
ExtensionIdOption = Annotated[
    list[str] | None,
    typer.Option(
        "--extension-id",
        help="Also allow the extension with this id: a copy installed from the Chrome Web "
        "Store or Edge Add-ons, which gives it its own id (32 letters a-p, shown in "
        "chrome://extensions). Repeatable; ids allowed before stay allowed.",
        show_default=False,
    ),
]


@app.command("install")
def install(
    ctx: typer.Context,
    browser: BrowserOption = "all",
    profile: ProfileOption = None,
    extension_id: ExtensionIdOption = None,
) -> None:
    """Install the native host for this home, so the extension's card can reach it."""
    from dmledger import settings as config
    from dmledger.native.install import Installer, parse_browsers, parse_extension_ids

    st = state(ctx)
    browsers = parse_browsers(browser)
    store_ids = parse_extension_ids(extension_id or [])
    installer = Installer(st.home)
    report = installer.install(browsers, profile, store_ids)
    set_up = (st.home / config.CONFIG_NAME).exists()
    if st.json:
        emit_json(report.to_dict())
        return
    out.print(f"Native host installed for the home {escape(report.home)}:")
    for placed in report.manifests:
        where = placed.manifest + (
            f" (registry {placed.registry_key})" if placed.registry_key else ""
        )
        out.print(f"  {escape(placed.browser)}: {escape(where)}")
    out.print(f"Extension folder: {escape(report.extension_dir)}")
    if report.store_extension_ids:
        out.print(f"Also allowed (store copies): {escape(', '.join(report.store_extension_ids))}")
    if any(p.browser != "firefox" for p in report.manifests):
        out.print(
            "In Chrome, Edge or Brave: open chrome://extensions, turn on Developer mode, "
            "click “Load unpacked” and choose the folder above, or install the team's copy "
            "from the store. Then open an Instagram profile."
        )
    if any(p.browser == "firefox" for p in report.manifests):
        out.print(
            "In Firefox: install the team's add-on (addons.mozilla.org), or for a try open "
            "about:debugging, “This Firefox”, “Load Temporary Add-on…” and choose "
            "manifest.json in the folder above."
        )
    if not set_up:
        err.print(
            f"[yellow]This home is not set up yet: run `dmledger --home {escape(report.home)} "
            "init --operator NAME --actor ACCOUNT`; the card says so until you do.[/]"
        )


@app.command("uninstall")
def uninstall(
    ctx: typer.Context,
    browser: Annotated[
        str | None,
        typer.Option("--browser", help="Only for this browser (default: everything installed)."),
    ] = None,
    profile: ProfileOption = None,
) -> None:
    """Remove the native host manifests and the launchers that install wrote."""
    from dmledger.native.install import Installer, parse_browsers

    st = state(ctx)
    browsers = parse_browsers(browser) if browser else None
    report = Installer(st.home).uninstall(browsers, profile)
    if st.json:
        emit_json(report.to_dict())
        return
    if not report.removed:
        out.print("Nothing to remove: the native host is not installed for this home.")
    for placed in report.removed:
        out.print(f"removed {escape(placed.browser)}: {escape(placed.manifest)}")


@app.command("status")
def status(ctx: typer.Context) -> None:
    """Where the native host is installed, and whether each manifest points at this home."""
    from dmledger.native.install import Installer

    st = state(ctx)
    report = Installer(st.home).status()
    if st.json:
        emit_json(report.to_dict())
        return
    out.print(
        f"Extension folder: {escape(report.extension_dir)} (id {report.extension_id}; "
        f"in Firefox {escape(report.firefox_id)})"
    )
    if report.store_extension_ids:
        out.print(f"Store copies allowed: {escape(', '.join(report.store_extension_ids))}")
    if not report.manifests:
        out.print("No native host manifest installed: run `dmledger browser install`.")
    for placed in report.manifests:
        if not placed.present:
            state_text = "[red]missing[/]"
        elif placed.points_here:
            state_text = "[green]installed[/]"
        else:
            state_text = "[yellow]points at another home or program[/]"
        out.print(f"  {escape(placed.browser)}: {escape(placed.manifest)} — {state_text}")
        out.print(f"    launcher {escape(placed.launcher)}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="browser")

    # Chrome on Windows adds --parent-window=N after the origin: accepted, ignored.
    @root.command(
        "native-host",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )
    def native_host(
        ctx: typer.Context,
        caller: Annotated[
            list[str] | None,
            typer.Argument(
                help="What the browser passes: the extension's origin (and on Windows "
                "--parent-window=N). Not needed by hand.",
                show_default=False,
            ),
        ] = None,
    ) -> None:
        """Speak Chrome's native messaging on stdin/stdout for this home (the browser
        starts it; you do not)."""
        from dmledger.native.host import run

        run(state(ctx).home)
