"""The two servers P1 compares, run with the same uvicorn settings in their own process.

python -m bench.web_server app HOME PORT    # DM Ledger's web app around HOME's Ledger
python -m bench.web_server bare - PORT      # a bare FastAPI route returning a constant
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI

HOST = "127.0.0.1"


def bare_app() -> FastAPI:
    app = FastAPI()

    @app.get("/api/v1/prospects/{handle}")
    def constant(handle: str) -> dict[str, object]:
        return {"handle": "constant", "status": "new", "contacted": False}

    return app


def ledger_app(home: Path) -> FastAPI:
    from dmledger import settings as config
    from dmledger.app.ledger import Ledger
    from dmledger.web.app import create_app

    ledger = Ledger.open(home)
    return create_app(
        ledger,
        token=config.api_token(home),
        allowed_hosts=(HOST, "localhost"),
        run_sync_loop=False,
    )


def main(argv: list[str]) -> None:
    kind, home, port = argv
    app = ledger_app(Path(home)) if kind == "app" else bare_app()
    # The same settings for both: one process, the default event loop and HTTP parser,
    # no access log (it would be most of the work of the bare route).
    uvicorn.run(app, host=HOST, port=int(port), log_level="warning", access_log=False)


if __name__ == "__main__":
    main(sys.argv[1:])
