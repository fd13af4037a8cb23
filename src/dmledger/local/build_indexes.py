"""``python -m dmledger.local.build_indexes CACHE_FILE``: build the indexes a full resync
left off, in a process of its own (``dmledger sync`` starts it and returns once the rows
are in). Safe beside the app, a sync or another builder: each step is a short
transaction that reads where the build stands, and a full resync that starts meanwhile
stops it (that resync builds them after its rows)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from dmledger.local.store import LocalStore


def main(argv: list[str]) -> int:
    (path,) = argv
    store = LocalStore(Path(path))
    try:
        store.finish_indexing()
    except Exception:  # a cache a later command will build again; nobody to tell here
        logging.getLogger(__name__).exception("building the cache's indexes failed")
        return 1
    finally:
        store.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
