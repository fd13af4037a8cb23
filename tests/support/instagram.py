"""A stand-in for instagram.com, served to Chromium by Playwright's request routing.

One small single-page app of our own making that follows the structure the extension
reads: a profile page (``/HANDLE/``), a DM thread (``/direct/t/ID/``) whose
``[role="main"] header`` holds links to the setter's own profile and the lead's, a
``[role="textbox"][contenteditable="true"]`` composer and a "Send" button, and
``history.pushState`` navigation between them (``window.spaGo(path)``). Sending
clears the composer, as the site does; nothing leaves the page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

SHELL = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Instagram</title>
<style>
  body { margin: 0; font-family: sans-serif; }
  nav { position: fixed; left: 0; top: 0; bottom: 0; width: 72px; background: #fafafa;
        border-right: 1px solid #dbdbdb; }
  [role=main] { margin-left: 90px; padding: 24px; }
  header { display: flex; gap: 18px; align-items: center; padding: 12px 0;
           border-bottom: 1px solid #dbdbdb; }
  .avatar { width: 120px; height: 120px; border-radius: 50%; background: #c9c9c9; }
  .grid { display: grid; grid-template-columns: repeat(3, 1fr); gap: 4px; margin-top: 16px; }
  .grid div { aspect-ratio: 1; background: #e4e4e4; }
  [role=textbox] { border: 1px solid #dbdbdb; border-radius: 20px; padding: 10px; }
</style></head>
<body><nav aria-label="Instagram"></nav><div id="app"></div>
<script>
const THREADS = __THREADS__;
const SENT = [];
window.SENT = SENT;
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const kid of kids) e.append(kid);
  return e;
}
function render() {
  const app = document.getElementById("app");
  const parts = location.pathname.split("/").filter(Boolean);
  let main;
  if (parts[0] === "direct" && parts[1] === "t") {
    const thread = THREADS[parts[2]] || {};
    main = el("main", {role: "main"});
    if (!thread.broken) {
      const header = el("header", {});
      if (thread.before) header.append(el("a", {href: "/" + thread.before + "/"}, thread.before));
      header.append(el("a", {href: "/" + thread.me + "/"}, "You"));
      header.append(el("a", {href: "/" + thread.lead + "/"}, thread.title || thread.lead));
      main.append(header);
    }
    main.append(el("div", {class: "messages"}, "…"));
    if (!thread.noComposer) {
      const box = el("div", {role: "textbox", contenteditable: "true", "aria-label": "Message"});
      const send = el("div", {role: "button", tabindex: "0"}, "Send");
      const doSend = () => { SENT.push(box.innerText.trim()); box.textContent = ""; };
      box.addEventListener("keydown", (e) => {
        if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); doSend(); }
      });
      send.addEventListener("click", doSend);
      main.append(box, send);
    }
  } else if (parts[0] === "direct") {
    main = el("main", {role: "main"}, el("h1", {}, "Inbox"));
  } else if (parts.length === 1 && !["explore", "reels", "accounts"].includes(parts[0])) {
    main = el("main", {role: "main"},
      el("header", {}, el("div", {class: "avatar"}), el("h2", {}, parts[0])),
      el("div", {class: "grid"}, el("div", {}), el("div", {}), el("div", {}),
        el("div", {}), el("div", {}), el("div", {})));
  } else {
    main = el("main", {role: "main"}, el("h1", {}, parts.join(" / ") || "Home"));
  }
  app.replaceChildren(main);
}
window.spaGo = (path) => { history.pushState({}, "", path); render(); };
document.addEventListener("click", (e) => {
  const a = e.target.closest("a[href^='/']");
  if (a) { e.preventDefault(); window.spaGo(a.getAttribute("href")); }
});
window.addEventListener("popstate", render);
render();
</script></body></html>
"""


@dataclass
class FakeInstagram:
    """The site's threads: ``id -> {"me", "lead", "title", "before", "broken",
    "noComposer"}`` (``before``: a link put ahead of the others in the header)."""

    threads: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    documents: int = 0  # page loads (in-app navigation makes none)

    def page(self) -> str:
        return SHELL.replace("__THREADS__", json.dumps(self.threads).replace("</", "<\\/"))

    def install(self, context: Any) -> None:
        """Answer every instagram.com request with the app; refuse every other host."""

        def on_instagram(route: Any) -> None:
            self.requests.append(route.request.url)
            if route.request.resource_type == "document":
                self.documents += 1
                route.fulfill(status=200, content_type="text/html; charset=utf-8", body=self.page())
            else:
                route.fulfill(status=204, body="")

        context.route("https://www.instagram.com/**", on_instagram)
