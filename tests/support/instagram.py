"""A stand-in for instagram.com, served to Chromium by Playwright's request routing.

One small single-page app of our own making with the structure the real site shows
(tests/fixtures/instagram/README.md names the evidence for each part):

- a navigation rail (``<nav>``) whose links are the site's pages and, last, the
  signed-in account's own profile (``a[href="/ACCOUNT/"]`` holding its picture);
- a profile page (``/HANDLE/``) with the profile in a ``<header>``;
- a DM thread (``/direct/t/ID/`` or ``/direct/e2ee/t/ID/``) with **no** ``<header>``:
  beside the inbox list (rows that are ``[role=button]``, some holding profile links,
  and the account's own name in an ``h2``) the conversation pane, headed by a profile
  link ``a[role=link][href="/LEAD/"]`` holding the lead's name in an ``h2``; then
  ``[data-pagelet="IGDOpenMessageList"]`` (with ``[role=grid]`` inside in one layout,
  without it in the other), messages as ``[role=group]`` carrying the lead's avatar
  link, a shared post with its author's profile link; then the composer bar: an
  emoji control, the ``[role=textbox][contenteditable=true]`` composer, and the
  send control after it (shown while there is text; icons otherwise);
- a group thread: its pane heading is an ``h2`` in no link, and message avatars link
  to several people;
- a mention list (``[role=listbox]`` tied to the composer by ``aria-controls``,
  ``aria-expanded`` and ``aria-activedescendant``) while an ``@name`` is typed: Enter
  then picks a name, it does not send;
- a pane that renders late (``late`` ms), and in-app navigation where the previous
  thread's pane stays on screen a moment (``LINGER_MS``) before the new one replaces it.

Every label, aria-label, alt and button text comes from the page's language: ``en`` or
``es``. Sending clears the composer, as the site does (unless the thread is set to
``failSend``, where the text stays); nothing leaves the page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

LINGER_MS = 400  # the previous thread's pane stays this long after an in-app navigation

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "home": "Home",
        "explore": "Explore",
        "reels": "Reels",
        "messages": "Messages",
        "profile": "Profile",
        "picture": "{0}'s profile picture",
        "open_profile": "Open the profile page of {0}",
        "conversation": "Conversation with {0}",
        "in_conversation": "Messages in conversation with {0}",
        "thread_list": "Thread list",
        "audio": "Audio call",
        "video": "Video call",
        "info": "Conversation information",
        "emoji": "Choose an emoji",
        "message": "Message",
        "placeholder": "Message...",
        "send": "Send",
        "voice": "Voice clip",
        "photo": "Add Photo or Video",
        "like": "Like",
        "loading": "Loading...",
        "shared": "Shared a post",
        "inbox": "Your messages",
        "posts": "posts",
    },
    "es": {
        "home": "Inicio",
        "explore": "Explorar",
        "reels": "Reels",
        "messages": "Mensajes",
        "profile": "Perfil",
        "picture": "Foto del perfil de {0}",
        "open_profile": "Abrir la página de perfil de {0}",
        "conversation": "Conversación con {0}",
        "in_conversation": "Mensajes de la conversación con {0}",
        "thread_list": "Lista de conversaciones",
        "audio": "Llamada de audio",
        "video": "Videollamada",
        "info": "Información de la conversación",
        "emoji": "Elige un emoji",
        "message": "Mensaje",
        "placeholder": "Envía un mensaje...",
        "send": "Enviar",
        "voice": "Clip de voz",
        "photo": "Añadir foto o vídeo",
        "like": "Me gusta",
        "loading": "Cargando...",
        "shared": "Compartió una publicación",
        "inbox": "Tus mensajes",
        "posts": "publicaciones",
    },
}

SHELL = """<!doctype html>
<html lang="__LANG__"><head><meta charset="utf-8"><title>Instagram</title>
<style>
  body { margin: 0; font-family: sans-serif; }
  nav { position: fixed; left: 0; top: 0; bottom: 0; width: 72px; background: #fafafa;
        border-right: 1px solid #dbdbdb; display: flex; flex-direction: column; gap: 14px;
        padding-top: 20px; align-items: center; }
  nav a { font-size: 10px; color: #262626; text-decoration: none; text-align: center; }
  nav img, .pic { width: 24px; height: 24px; border-radius: 50%; background: #c9c9c9;
        display: inline-block; }
  [role=main] { margin-left: 73px; height: 100vh; box-sizing: border-box; }
  .inbox { width: 300px; border-right: 1px solid #dbdbdb; overflow: auto; }
  .inbox [role=button] { display: flex; gap: 10px; padding: 8px 16px; align-items: center; }
  .split { display: flex; height: 100%; }
  .pane { flex: 1; display: flex; flex-direction: column; min-width: 0; }
  .top { display: flex; align-items: center; gap: 10px; padding: 10px 16px;
         border-bottom: 1px solid #dbdbdb; }
  .top a { display: flex; gap: 10px; align-items: center; color: inherit;
           text-decoration: none; flex: 1; }
  .top h2 { font-size: 16px; margin: 0; }
  [data-pagelet] { flex: 1; overflow: auto; padding: 12px 16px; }
  [role=group] { display: flex; gap: 8px; align-items: flex-end; margin: 6px 0; }
  .bubble { background: #efefef; border-radius: 18px; padding: 8px 12px; }
  .mine { justify-content: flex-end; } .mine .bubble { background: #3797f0; color: #fff; }
  .bar { display: flex; gap: 8px; align-items: center; margin: 12px 16px;
         border: 1px solid #dbdbdb; border-radius: 22px; padding: 6px 12px; }
  [role=textbox] { flex: 1; min-height: 20px; outline: none; }
  .bar [role=button] { cursor: pointer; color: #0095f6; font-weight: 600; min-width: 24px;
                       min-height: 24px; }
  svg { display: inline-block; width: 24px; height: 24px; color: #262626; }
  .tail { display: flex; gap: 12px; align-items: center; }
  [role=listbox] { position: absolute; bottom: 70px; background: #fff;
                   border: 1px solid #dbdbdb; border-radius: 8px; padding: 4px; }
  [role=option][aria-selected=true] { background: #efefef; }
  header { display: flex; gap: 18px; align-items: center; padding: 24px; }
  .avatar { width: 120px; height: 120px; border-radius: 50%; background: #c9c9c9; }
  .grid { display: grid; grid-template-columns: repeat(3, 1fr); gap: 4px; margin: 0 24px; }
  .grid div { aspect-ratio: 1; background: #e4e4e4; }
  /* A narrow window shows the conversation alone, as the site does. */
  @media (max-width: 700px) { .pane ~ .inbox, .split:has(.pane) .inbox { display: none; }
    nav { width: 48px; } [role=main] { margin-left: 49px; } }
</style></head>
<body><div id="mount_0_0_aa"><div class="rail"></div><div id="app"></div></div>
<script>
const SITE = __SITE__;
const L = SITE.labels;
const SENT = [];
window.SENT = SENT;
const fmt = (text, value) => text.replace("{0}", value);
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const kid of kids) if (kid !== null && kid !== undefined) e.append(kid);
  return e;
}
const SVG = "http://www.w3.org/2000/svg";
const BLANK = "data:image/svg+xml,%3Csvg xmlns=%22http://www.w3.org/2000/svg%22/%3E";
function icon(label) {
  const svg = document.createElementNS(SVG, "svg");
  for (const [k, v] of Object.entries({"aria-label": label, role: "img", width: "24",
    height: "24", viewBox: "0 0 24 24"})) svg.setAttribute(k, v);
  const ring = document.createElementNS(SVG, "circle");
  for (const [k, v] of Object.entries({cx: "12", cy: "12", r: "9", fill: "none",
    stroke: "currentColor", "stroke-width": "2"})) ring.setAttribute(k, v);
  svg.append(ring);
  return svg;
}
const picture = (handle) => el("img", {alt: fmt(L.picture, handle), class: "pic", src: BLANK});
const profileLink = (handle, ...kids) => el("a", {
  href: "/" + handle + "/", role: "link", tabindex: "0",
  "aria-label": fmt(L.open_profile, handle)}, ...kids);

function navigation() {
  const nav = el("nav", {},
    el("a", {href: "/", role: "link"}, icon(L.home), el("span", {}, L.home)),
    el("a", {href: "/explore/", role: "link"}, icon(L.explore), el("span", {}, L.explore)),
    el("a", {href: "/reels/", role: "link"}, icon(L.reels), el("span", {}, L.reels)),
    el("a", {href: "/direct/inbox/", role: "link"}, icon(L.messages), el("span", {}, L.messages)));
  if (SITE.account) {
    nav.append(el("a", {href: "/" + SITE.account + "/", role: "link"},
      picture(SITE.account), el("span", {}, L.profile)));
  }
  return nav;
}

function inboxList(current) {
  const list = el("div", {class: "inbox", "aria-label": L.thread_list},
    el("div", {}, el("h2", {}, SITE.account || ""), el("span", {}, L.inbox)));
  for (const [id, thread] of Object.entries(SITE.threads)) {
    if (!thread.lead && !thread.group) continue;
    const name = thread.title || thread.lead;
    const row = el("div", {role: "button", tabindex: "0", "data-thread": id},
      el("img", {alt: "user-profile-picture", class: "pic", src: BLANK}),
      el("div", {}, el("span", {dir: "auto"}, name), el("span", {dir: "auto"}, "…")));
    // Some rows hold a link to the person's profile (the evidence shows both kinds).
    if (thread.lead && id !== current) row.append(profileLink(thread.lead, el("span", {}, "@")));
    row.addEventListener("click", () => window.spaGo(threadPath(id)));
    list.append(row);
  }
  return list;
}

function threadPath(id) {
  return (SITE.threads[id] && SITE.threads[id].e2ee ? "/direct/e2ee/t/" : "/direct/t/") + id + "/";
}

function message(from, text) {
  if (from === SITE.account) {
    return el("div", {role: "group", tabindex: "-1", class: "mine"},
      el("div", {role: "presentation", class: "bubble", dir: "auto"}, text));
  }
  return el("div", {role: "group", tabindex: "-1"},
    profileLink(from, picture(from)),
    el("div", {role: "presentation", class: "bubble", dir: "auto"}, text));
}

function composerBar(thread) {
  const bar = el("div", {class: "bar"});
  const emoji = el("div", {role: "button", tabindex: "0", "aria-label": L.emoji}, icon(L.emoji));
  const box = el("div", {role: "textbox", contenteditable: "true", spellcheck: "true",
    tabindex: "0", class: "notranslate", "aria-label": L.message,
    "aria-placeholder": L.placeholder, "aria-describedby": "placeholder-1",
    "data-lexical-editor": "true"});
  const tail = el("div", {class: "tail"});
  bar.append(emoji, box, tail);
  let list = null;
  const text = () => box.innerText.replace(/\\n$/, "").trim();
  const closeList = () => {
    if (list) list.remove();
    list = null;
    box.removeAttribute("aria-controls");
    box.removeAttribute("aria-activedescendant");
    box.setAttribute("aria-expanded", "false");
  };
  const people = () => [...new Set(Object.values(SITE.threads).map((t) => t.lead).filter(Boolean))];
  const showTail = () => {
    if (text()) {
      tail.replaceChildren(el("div", {role: "button", tabindex: "0"}, L.send));
    } else {
      tail.replaceChildren(
        el("div", {role: "button", tabindex: "0", "aria-label": L.voice}, icon(L.voice)),
        el("div", {role: "button", tabindex: "0", "aria-label": L.photo}, icon(L.photo)),
        el("div", {role: "button", tabindex: "0", "aria-label": L.like}, icon(L.like)));
    }
  };
  const suggest = () => {
    const match = /@([a-z0-9._]*)$/i.exec(text());
    if (!match) return closeList();
    const found = people().filter((p) => p.startsWith(match[1].toLowerCase())).slice(0, 4);
    if (!found.length) return closeList();
    closeList();
    list = el("div", {role: "listbox", id: "mentions-1"},
      ...found.map((p, i) => el("div", {role: "option", id: "mention-" + i,
        "aria-selected": String(i === 0)}, p)));
    bar.append(list);
    box.setAttribute("aria-controls", "mentions-1");
    box.setAttribute("aria-expanded", "true");
    box.setAttribute("aria-activedescendant", "mention-0");
  };
  const doSend = () => {
    const said = text();
    if (!said) return;
    if (thread.failSend) return; // a send the site refused: the text stays
    SENT.push(said);
    bar.dispatchEvent(new CustomEvent("sent", {detail: said}));
    // The site clears the composer once the message is on its way.
    setTimeout(() => { box.replaceChildren(); showTail(); }, 30);
  };
  box.addEventListener("input", () => { showTail(); suggest(); });
  box.addEventListener("keydown", (e) => {
    if (e.key !== "Enter" || e.shiftKey || e.isComposing) return;
    e.preventDefault();
    if (list) {  // Enter picks the highlighted name
      const picked = list.querySelector("[aria-selected=true]").textContent;
      box.textContent = text().replace(/@[a-z0-9._]*$/i, "@" + picked + " ");
      closeList();
      return;
    }
    doSend();
  });
  tail.addEventListener("click", (e) => {
    const control = e.target.closest("[role=button]");
    if (control && !control.hasAttribute("aria-label")) doSend();
  });
  showTail();
  closeList();
  return bar;
}

function pane(id, thread) {
  const name = thread.title || thread.lead || "";
  const root = el("div", {class: "pane", "aria-label": fmt(L.conversation, name)});
  const calls = [
    el("div", {role: "button", tabindex: "0", "aria-label": L.audio}, icon(L.audio)),
    el("div", {role: "button", tabindex: "0", "aria-label": L.video}, icon(L.video)),
    el("div", {role: "button", tabindex: "0", "aria-label": L.info}, icon(L.info))];
  if (thread.group) {
    root.append(el("div", {class: "top"},
      el("div", {class: "pic"}),
      el("div", {style: "flex: 1"}, el("h2", {}, el("span", {dir: "auto"}, name))),
      ...calls));
  } else if (!thread.broken) {
    root.append(el("div", {class: "top"},
      profileLink(thread.lead, picture(thread.lead),
        el("div", {}, el("h2", {}, el("span", {dir: "auto"}, name)),
          el("span", {}, thread.lead))),
      ...calls));
  }
  const list = el("div", {"data-pagelet": "IGDOpenMessageList"});
  const messages = thread.grid === false ? list
    : list.appendChild(el("div", {role: "grid", "aria-label": fmt(L.in_conversation, name)}));
  const said = thread.messages || (thread.group
    ? thread.group.map((who) => [who, "hi all"])
    : [[thread.lead, "Hi!"], [SITE.account, "Hello there"]]);
  for (const [from, text] of said) messages.append(message(from, text));
  if (thread.shared) {
    messages.append(el("div", {role: "group", tabindex: "-1"},
      profileLink(thread.lead || thread.group[0], picture(thread.lead || thread.group[0])),
      el("div", {class: "bubble"}, el("span", {}, L.shared),
        profileLink(thread.shared, el("span", {}, thread.shared)),
        el("a", {href: "/p/Cshared1/", role: "link"},
          el("img", {alt: "", class: "pic", src: BLANK})))));
  }
  root.append(list);
  if (!thread.noComposer) {
    const bar = composerBar(thread);
    bar.addEventListener("sent", (e) => messages.append(message(SITE.account, e.detail)));
    root.append(bar);
  }
  return root;
}

let shown = null;  // the thread whose pane is on screen
let pending = null;
function renderThread(id, main) {
  const thread = SITE.threads[id] || {};
  const split = el("div", {class: "split"}, inboxList(id));
  main.append(split);
  const fill = () => { split.append(pane(id, thread)); shown = id; };
  if (thread.late) {
    split.append(el("div", {class: "pane"}, el("div", {role: "progressbar"}, L.loading)));
    pending = setTimeout(() => { split.lastChild.remove(); fill(); }, thread.late);
  } else {
    fill();
  }
}

function render() {
  clearTimeout(pending);
  const app = document.getElementById("app");
  const parts = location.pathname.split("/").filter(Boolean);
  const main = el("main", {role: "main"});
  if (parts[0] === "direct" && (parts[1] === "t" || (parts[1] === "e2ee" && parts[2] === "t"))) {
    renderThread(parts[1] === "t" ? parts[2] : parts[3], main);
  } else if (parts[0] === "direct") {
    main.append(el("div", {class: "split"}, inboxList(null)));
    shown = null;
  } else if (parts.length === 1 && !["explore", "reels", "accounts"].includes(parts[0])) {
    main.append(
      el("header", {}, el("div", {class: "avatar"}),
        el("section", {}, el("h2", {}, parts[0]), el("span", {}, "12 " + L.posts))),
      el("div", {class: "grid"}, el("div", {}), el("div", {}), el("div", {}),
        el("div", {}), el("div", {}), el("div", {})));
    shown = null;
  } else {
    main.append(el("h1", {}, parts.join(" / ") || L.home));
    shown = null;
  }
  app.replaceChildren(main);
}

window.spaGo = (path) => {
  const fromThread = shown !== null;
  history.pushState({}, "", path);
  // The previous thread's pane stays on screen a moment after the URL changed.
  if (fromThread && path.startsWith("/direct/")) {
    clearTimeout(pending);
    pending = setTimeout(render, SITE.linger);
  } else {
    render();
  }
};
document.addEventListener("click", (e) => {
  const a = e.target.closest("a[href^='/']");
  if (a) { e.preventDefault(); window.spaGo(a.getAttribute("href")); }
});
window.addEventListener("popstate", render);
document.querySelector(".rail").replaceWith(navigation());
render();
</script></body></html>
"""


@dataclass
class FakeInstagram:
    """The site: who is signed in (``account``; None: a page without it), the page's
    ``lang`` (``en`` or ``es``), and its threads: ``id -> {"lead", "title", "group":
    [members], "e2ee", "late": ms, "broken": no heading, "noComposer", "failSend",
    "grid": False for the layout without [role=grid], "shared": a post's author,
    "messages": [[from, text], ...]}``."""

    threads: dict[str, dict[str, Any]] = field(default_factory=dict)
    account: str | None = "sarah.sells"
    lang: str = "en"
    linger_ms: int = LINGER_MS
    requests: list[str] = field(default_factory=list)
    documents: int = 0  # page loads (in-app navigation makes none)

    def page(self) -> str:
        site = {
            "threads": self.threads,
            "account": self.account,
            "labels": LABELS[self.lang],
            "linger": self.linger_ms,
        }
        data = json.dumps(site).replace("</", "<\\/")
        return SHELL.replace("__SITE__", data).replace("__LANG__", self.lang)

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
