"""The local web app and JSON API (``dmledger serve``).

``create_app(ledger, token=…)`` in ``app.py`` builds it. Modules by idea: ``security``
(Host allow-list, CSRF, headers, bearer token, redaction), ``limits`` (body sizes),
``asgi`` (what their middleware shares), ``errors`` (the one error → HTTP status
mapping), ``state`` (what routes share), ``render`` (templates and the page context
every page shares), ``api`` + ``schemas`` (the JSON API's requests and API-only
answers; the shapes it shares with the CLI are ``dmledger.app.views``), ``pages`` (Check and
the lead page), ``leads``, ``team_page``, ``admin``; ``charts`` draws the Team page's
SVG charts; ``server`` runs the app in a thread (browser tests, screenshots).
"""

from __future__ import annotations
