// Every read of Instagram's page goes through this file: the URL, the thread header
// and the composer. Nothing else in the extension looks at the page's DOM (except to
// notice a send, through `composer` and `isSendControl`). When Instagram changes its
// page, the self-check below names the selector that stopped matching, and the card
// says "can't read this page" instead of guessing.
"use strict";

globalThis.DMLedgerPage = (() => {
  const SELECTORS = {
    main: '[role="main"]',
    threadHeader: '[role="main"] header',
    headerLink: 'a[href^="/"]',
    composer: '[role="main"] [role="textbox"][contenteditable="true"]',
  };
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

  // What the URL says: {kind: "profile", handle}, {kind: "thread", thread} or
  // {kind: "none"} (explore, reels, the inbox, a post, ...).
  function routeOf(pathname) {
    const parts = pathname.split("/").filter(Boolean);
    if (parts.length >= 3 && parts[0] === "direct" && parts[1] === "t") {
      return { kind: "thread", thread: parts[2] };
    }
    if (parts.length === 1 || (parts.length === 2 && PROFILE_TABS.has(parts[1]))) {
      const first = parts[0].toLowerCase();
      const handle = NOT_PROFILES.has(first) ? null : handleOf(first);
      if (handle) return { kind: "profile", handle };
    }
    return { kind: "none" };
  }

  // The lead of a thread: the first /HANDLE/ link in the thread header that is not one
  // of the setter's own accounts. Returns {handle} or {failed: selector name}.
  function threadLead(doc, own) {
    const header = doc.querySelector(SELECTORS.threadHeader);
    if (!header) return { failed: "threadHeader" };
    for (const link of header.querySelectorAll(SELECTORS.headerLink)) {
      const path = link.getAttribute("href") || "";
      const match = /^\/([^/?#]+)\/?$/.exec(path);
      const handle = match && handleOf(match[1]);
      if (handle && !NOT_PROFILES.has(handle) && !own.has(handle)) return { handle };
    }
    return { failed: "headerLink" };
  }

  function composer(doc) {
    return doc.querySelector(SELECTORS.composer);
  }

  // The text the setter is sending: the composer's text, and nothing else.
  function composerText(element) {
    return element ? (element.innerText || element.textContent || "").trim() : "";
  }

  // A click on the control that sends: its text or aria-label is "Send".
  function isSendControl(target) {
    let node = target instanceof Element ? target : null;
    for (let depth = 0; node && depth < 4; depth += 1, node = node.parentElement) {
      const label = (node.getAttribute("aria-label") || "").trim();
      const role = node.getAttribute("role");
      const clickable = node.tagName === "BUTTON" || role === "button";
      if (label === "Send" || (clickable && node.textContent.trim() === "Send")) return true;
    }
    return false;
  }

  // Which selectors match on this page, for the options page.
  function selfCheck(doc, route) {
    const results = { main: !!doc.querySelector(SELECTORS.main) };
    if (route.kind === "thread") {
      results.threadHeader = !!doc.querySelector(SELECTORS.threadHeader);
      results.composer = !!composer(doc);
    }
    return results;
  }

  return { SELECTORS, routeOf, threadLead, composer, composerText, isSendControl, selfCheck, handleOf };
})();
