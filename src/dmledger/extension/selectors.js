// Every read of Instagram's page goes through this file: the URL, the thread's lead,
// the account signed in, the composer and its send control. Nothing else in the
// extension looks at the page's DOM. It reads only what does not change with the
// page's language — `href`, `role`, `contenteditable`, `data-pagelet`, `aria-*` state
// and the shape of the tree — never the text of a label (tests/fixtures/instagram/
// README.md names the evidence for each choice). When Instagram changes its page, the
// self-check names the selector that stopped matching, and the card says "can't read
// this page" instead of guessing.
"use strict";

globalThis.DMLedgerPage = (() => {
  const SELECTORS = {
    main: '[role="main"]',
    composer: '[role="main"] [role="textbox"][contenteditable="true"]',
    messageList: '[data-pagelet="IGDOpenMessageList"], [data-pagelet="IGDMessagesList"]',
    paneHeading: "h2",
    leadLink: "a[href]",
    navigation: "nav, [role=\"navigation\"]",
    accountLink: "a[href]",
  };
  const CLICKABLE = 'button, [role="button"]';
  const HANDLE = /^[a-z0-9._]{1,30}$/;
  // First path parts that are pages of the site, not profiles.
  const NOT_PROFILES = new Set([
    "about", "accounts", "ajax", "api", "challenge", "developer", "direct", "emails",
    "explore", "graphql", "legal", "p", "privacy", "reel", "reels", "session", "static",
    "stories", "terms", "tv", "web",
  ]);
  // Second path parts that are still the profile (its tabs).
  const PROFILE_TABS = new Set(["reels", "tagged", "saved", "followers", "following"]);

  function handleOf(text) {
    const handle = (text || "").toLowerCase();
    if (!HANDLE.test(handle) || handle.startsWith(".") || handle.endsWith(".") ||
        handle.includes("..")) {
      return null;
    }
    return handle;
  }

  // What the URL says: {kind: "profile", handle}, {kind: "thread", thread} (a thread's
  // URL, /direct/t/ID/ or the end-to-end encrypted /direct/e2ee/t/ID/) or {kind:
  // "none"} (explore, reels, the inbox, a post, ...).
  function routeOf(pathname) {
    const parts = pathname.split("/").filter(Boolean);
    if (parts[0] === "direct") {
      if (parts.length >= 3 && parts[1] === "t") return { kind: "thread", thread: parts[2] };
      if (parts.length >= 4 && parts[1] === "e2ee" && parts[2] === "t") {
        return { kind: "thread", thread: `e2ee/${parts[3]}` };
      }
      return { kind: "none" };
    }
    if (parts.length === 1 || (parts.length === 2 && PROFILE_TABS.has(parts[1]))) {
      const first = parts[0].toLowerCase();
      const handle = NOT_PROFILES.has(first) ? null : handleOf(first);
      if (handle) return { kind: "profile", handle };
    }
    return { kind: "none" };
  }

  // The handle a link points at when it is a profile (/HANDLE/), else null.
  function profileOf(link) {
    const path = (link && link.getAttribute("href")) || "";
    const match = /^(?:https:\/\/www\.instagram\.com)?\/([^/?#]+)\/?(?:[?#].*)?$/.exec(path);
    if (!match) return null;
    const handle = handleOf(match[1]);
    return handle && !NOT_PROFILES.has(handle) ? handle : null;
  }

  function visible(element) {
    return !!element && element.getClientRects().length > 0;
  }

  function composer(doc) {
    const found = [...doc.querySelectorAll(SELECTORS.composer)];
    return found.find(visible) || found[0] || null;
  }

  // The conversation pane: the nearest ancestor of the composer that holds the message
  // list (so not the inbox beside it, whose own heading and rows come earlier).
  function paneOf(box) {
    let node = box ? box.parentElement : null;
    while (node && !node.querySelector(SELECTORS.messageList)) node = node.parentElement;
    return node;
  }

  // The lead of the thread on screen, read from the heading of the conversation pane:
  // its first `h2` before the message list. In a one-to-one thread that heading sits in
  // a link to the lead's profile (the same href as their message avatars, which come
  // after it, as do shared posts; the inbox and the navigation are outside the pane).
  // A group's heading is in no link: {group: true}, and no participant is named.
  // Returns {handle, node} or {group, node} (node: the heading, to tell a pane still on
  // screen from the one before) or {failed: the selector that matched nothing}.
  function threadLead(doc) {
    const box = composer(doc);
    if (!box) return { failed: "composer" };
    const pane = paneOf(box);
    if (!pane) return { failed: "messageList" };
    const list = pane.querySelector(SELECTORS.messageList);
    const heading = [...pane.querySelectorAll(SELECTORS.paneHeading)].find(
      (h) => h.compareDocumentPosition(list) & Node.DOCUMENT_POSITION_FOLLOWING);
    if (!heading) return { failed: "paneHeading" };
    const link = heading.closest(SELECTORS.leadLink);
    if (!link || !pane.contains(link)) return { group: true, node: heading };
    const handle = profileOf(link);
    if (!handle) return { failed: "leadLink" };
    return { handle, node: heading };
  }

  // The account signed in: the navigation's one link to a profile (its own profile;
  // the other links are the site's pages). Null when there is none, or several.
  function signedIn(doc) {
    const found = new Set();
    for (const nav of doc.querySelectorAll(SELECTORS.navigation)) {
      if (nav.closest(SELECTORS.main)) continue; // a page's own tabs, not the site's
      for (const link of nav.querySelectorAll(SELECTORS.accountLink)) {
        const handle = profileOf(link);
        if (handle) found.add(handle);
      }
    }
    return found.size === 1 ? [...found][0] : null;
  }

  // The text the setter is sending: the composer's text, and nothing else.
  function composerText(element) {
    return element ? (element.innerText || element.textContent || "").trim() : "";
  }

  // A mention or emoji list has the keys while it is open: the composer says so the
  // ARIA way (aria-expanded, aria-activedescendant, aria-controls a shown listbox).
  function suggestionsOpen(box) {
    if (!box) return false;
    if (box.getAttribute("aria-expanded") === "true") return true;
    const active = box.getAttribute("aria-activedescendant");
    if (active && box.ownerDocument.getElementById(active)) return true;
    for (const id of (box.getAttribute("aria-controls") || "").split(/\s+/).filter(Boolean)) {
      const target = box.ownerDocument.getElementById(id);
      if (target && target.getAttribute("role") === "listbox" && visible(target)) return true;
    }
    return false;
  }

  // The composer's send control, found by its place: the first clickable element after
  // the composer in the composer's bar (the nearest ancestor that has one). Its label
  // ("Send", "Enviar", "Senden", an icon's aria-label) is never read.
  function sendControl(box) {
    let bar = box ? box.parentElement : null;
    for (let depth = 0; bar && depth < 4; depth += 1, bar = bar.parentElement) {
      const after = [...bar.querySelectorAll(CLICKABLE)].find((node) =>
        !node.contains(box) &&
        (box.compareDocumentPosition(node) & Node.DOCUMENT_POSITION_FOLLOWING) &&
        !(box.compareDocumentPosition(node) & Node.DOCUMENT_POSITION_CONTAINED_BY));
      if (after) return after;
    }
    return null;
  }

  // Whether a click on `target` is a click on the composer's send control.
  function isSendControl(target, box) {
    const control = sendControl(box);
    return !!control && target instanceof Node && control.contains(target);
  }

  // Which selectors match on this page, for the options page.
  function selfCheck(doc, route) {
    const account = !!signedIn(doc);
    const results = {
      main: !!doc.querySelector(SELECTORS.main),
      navigation: !!doc.querySelector(SELECTORS.navigation),
      accountLink: account,
    };
    if (route.kind === "thread") {
      const box = composer(doc);
      results.composer = !!box;
      const pane = paneOf(box);
      results.messageList = !!pane;
      const read = threadLead(doc);
      results.paneHeading = !!(read.handle || read.group || read.failed === "leadLink");
      results.leadLink = !!(read.handle || read.group);
    }
    return results;
  }

  return {
    SELECTORS, routeOf, threadLead, signedIn, composer, composerText, suggestionsOpen,
    sendControl, isSendControl, selfCheck, handleOf,
  };
})();
