// The controller in the Instagram tab: follows the site's in-app navigation, asks the
// host (through the service worker) for the card of the lead on screen, and offers to
// record a DM when the setter sends one, for the account signed in on the page. It
// never types, sends or clicks anything.
"use strict";

(() => {
  const Page = globalThis.DMLedgerPage;
  const Card = globalThis.DMLedgerCard;
  // A thread opened cold can take seconds to render its pane: wait this long for it.
  const THREAD_WAIT_MS = 15000;
  const SEND_WAIT_MS = 3000; // a send counts when the composer empties within this
  const POLL_MS = 200;

  const state = { mode: "hidden", ui: { open: null, note: null }, account: null };
  let hello = null;
  let helloError = null;
  let shownPath = null;
  let generation = 0; // bumps on every navigation: late replies for old pages are dropped
  let requests = 0; // numbers every card request: an older answer never replaces a newer
  let settings = { autoRecord: false };
  let waiting = null; // the thread reading waited for: {look, cancel}
  let lastThread = null; // the last thread reading taken: {node, key}
  const chosen = new Map(); // page account ("" when unreadable) -> account chosen for it

  const view = Card.mount(document, (position) => chrome.storage.local.set({ position }));

  function host(request) {
    return new Promise((resolve) => {
      try {
        chrome.runtime.sendMessage({ kind: "host", request }, (reply) => {
          if (chrome.runtime.lastError || !reply) {
            resolve({ ok: false, error: { type: "extension", message:
              "The extension's background worker did not answer; reload the page.",
              fix: "reload the page (or the extension in the browser's extensions page)" } });
          } else {
            resolve(reply);
          }
        });
      } catch (error) {
        resolve({ ok: false, error: { type: "extension", message:
          "The extension was updated or removed; reload the page.", fix: "reload the page" } });
      }
    });
  }

  // A request whose answer is a card: numbered when it is sent, so that an answer to
  // an older request (a team card asked for before a write) is known for what it is.
  async function cardRequest(request) {
    requests += 1;
    const number = requests;
    return { reply: await host(request), number };
  }

  // Whether an answer numbered `number` for `handle` may be shown: never over a card
  // answering a newer request for the same lead.
  function isCurrent(number, handle, mine) {
    if (mine !== generation) return false;
    if (state.card && state.card.handle === handle && number < state.cardNumber) return false;
    return true;
  }

  // Two moments of a page, for the benchmark (bench/figures_extension.py), each stamped
  // once per navigation with performance.now() on the card's host element:
  // data-shown-at when the first answer for the page is on screen (its card, or the
  // problem), data-team-at when the team's DMs are merged into that card. A navigation
  // clears both; later renders (the team's DMs, a write) leave them as they are.
  function stamp(name) {
    if (!(name in view.host.dataset)) {
      view.host.dataset[name] = String(Math.round(performance.now()));
    }
  }

  function clearStamps() {
    delete view.host.dataset.shownAt;
    delete view.host.dataset.teamAt;
  }

  function render() {
    if (state.mode !== "hidden") view.attach();
    view.render({ ...state, hello }, actions);
    if (["card", "problem", "group"].includes(state.mode)) stamp("shownAt");
  }

  function showProblem(verdict, handle, problem) {
    Object.assign(state, { mode: "problem", verdict, handle, problem, card: null });
    render();
  }

  function setCard(card, number, note) {
    Object.assign(state, { mode: "card", card, cardNumber: number, handle: card.handle,
      problem: null });
    state.ui = { open: null, note: note || null };
    render();
  }

  function replyProblem(reply) {
    const error = reply.error || {};
    return { message: error.message || "DM Ledger did not answer.", fix: error.fix };
  }

  async function ensureHello() {
    if (hello) return true;
    const reply = await host({ type: "hello" });
    if (reply.ok) {
      hello = reply.hello;
      helloError = null;
      state.account = accountFor(state.account ? state.account.page : Page.signedIn(document));
      return true;
    }
    helloError = reply;
    return false;
  }

  // -- the account a DM is credited to ------------------------------------------------

  // From the account the page shows as signed in (`page`, null when it cannot be read):
  // {page, actor, kind}. `actor` is what a DM would be credited to, null until known:
  // the page's account when it is one of the team's ("own": this teammate's, "team":
  // another teammate's), or the one the setter chose for this page ("chosen"). An
  // account the team does not have ("unknown") or an unreadable page ("unread") is
  // never credited to a default: the card asks.
  function accountFor(page) {
    const picked = chosen.get(page || "");
    if (picked) return { page, actor: picked, kind: "chosen" };
    if (page && hello && hello.own_actors.includes(page)) return { page, actor: page, kind: "own" };
    if (page && hello && hello.actors.includes(page)) {
      return { page, actor: page, kind: "team", owner: (hello.owners || {})[page] || null };
    }
    return { page, actor: null, kind: page ? "unknown" : "unread" };
  }

  function readAccount() {
    const page = Page.signedIn(document);
    const next = accountFor(page);
    const now = state.account;
    if (now && now.page === next.page && now.actor === next.actor && now.kind === next.kind) {
      return false;
    }
    state.account = next;
    return true;
  }

  function ownAccounts() {
    const own = new Set(hello ? hello.own_actors : []);
    if (state.account && state.account.page) own.add(state.account.page);
    return own;
  }

  // -- the lead -----------------------------------------------------------------------

  async function showLead(handle, mine) {
    if (!(await ensureHello())) {
      if (mine === generation) showProblem("unavailable", handle, replyProblem(helloError));
      return;
    }
    if (mine !== generation) return;
    readAccount();
    if (ownAccounts().has(handle)) {
      Object.assign(state, { mode: "hidden", card: null });
      render();
      return;
    }
    const { reply, number } = await cardRequest({ type: "card", handle });
    if (!isCurrent(number, handle, mine)) return;
    if (reply.ok) {
      setCard(reply.card, number);
      loadTeamCard(handle, mine);
    } else {
      showProblem("unavailable", handle, replyProblem(reply));
    }
  }

  // The card with the team's DMs comes after the local one: the host may have to ask
  // the cloud. It can change the verdict too (a teammate's DM not synced here yet), so
  // it is shown whole; what the setter has chosen or typed in the card stays (card.js
  // keeps the fields they touched), and an answer older than the card on screen is
  // dropped.
  async function loadTeamCard(handle, mine) {
    const { reply, number } = await cardRequest({ type: "card", handle, team: true });
    if (!reply.ok || !state.card || state.card.handle !== handle) return;
    if (!isCurrent(number, handle, mine)) return;
    Object.assign(state, { card: reply.card, cardNumber: number });
    render();
    stamp("teamAt");
  }

  function showGroup() {
    Object.assign(state, { mode: "group", handle: null, card: null, problem: null });
    render();
  }

  function threadKey(read) {
    return read.group ? "group" : read.handle ? `@${read.handle}` : "";
  }

  // After an in-app navigation the previous thread's pane stays on screen a moment: a
  // reading from the very heading that gave the previous thread's lead is not the new
  // thread's.
  function isStale(read) {
    return !!lastThread && read.node === lastThread.node && read.node.isConnected &&
      threadKey(read) === lastThread.key;
  }

  // Wait for the thread's pane (it renders after the URL changes, cold in seconds): read
  // it on every change of the page until it answers, or THREAD_WAIT_MS passed. Resolves
  // with the reading, {failed: selector}, or null when the setter went elsewhere.
  function waitForThread(mine) {
    return new Promise((resolve) => {
      let lastFailed = "composer";
      let timer = null;
      const finish = (value) => {
        clearTimeout(timer);
        if (waiting && waiting.mine === mine) waiting = null;
        resolve(value);
      };
      const look = () => {
        if (mine !== generation) return finish(null);
        const read = Page.threadLead(document);
        if ((read.handle || read.group) && !isStale(read)) return finish(read);
        lastFailed = read.failed || "previous thread's pane";
        return null;
      };
      waiting = { mine, look, cancel: () => finish(null) };
      timer = setTimeout(() => finish({ failed: lastFailed }), THREAD_WAIT_MS);
      look();
    });
  }

  let lastCheck = "";
  function recordSelfCheck(route, failed) {
    const results = Page.selfCheck(document, route);
    const key = JSON.stringify([route.kind, results, failed || null]);
    if (key === lastCheck) return; // the same answer as last time: no write
    lastCheck = key;
    chrome.storage.local.set({
      selfCheck: { at: new Date().toISOString(), page: route.kind, results, failed: failed || null },
    });
  }

  async function showThread(read, mine) {
    lastThread = { node: read.node, key: threadKey(read) };
    state.threadKey = lastThread.key;
    if (read.group) {
      readAccount();
      showGroup();
      return;
    }
    await showLead(read.handle, mine);
  }

  async function onPath() {
    const path = location.pathname;
    if (path === shownPath) return;
    shownPath = path;
    generation += 1;
    const mine = generation;
    if (waiting) waiting.cancel();
    clearStamps();
    view.forget();
    state.sent = null;
    state.threadKey = null;
    state.cardNumber = 0;
    // One reply per page shown: "They replied" pressed twice records it once.
    state.replyId = crypto.randomUUID();
    const route = Page.routeOf(path);
    if (route.kind === "none") {
      Object.assign(state, { mode: "hidden", card: null, handle: null });
      render();
      return;
    }
    if (route.kind === "profile") {
      Object.assign(state, { mode: "loading", handle: route.handle, card: null });
      render();
      recordSelfCheck(route, null);
      await showLead(route.handle, mine);
      return;
    }
    Object.assign(state, { mode: "loading", handle: null, card: null });
    render();
    await ensureHello();
    const found = await waitForThread(mine);
    if (!found) return;
    recordSelfCheck(route, found.failed);
    if (found.failed) {
      showProblem("unreadable", null, {
        message: `DM Ledger could not find the lead in this thread (selector “${found.failed}” ` +
          "matched nothing). Instagram may have changed its page; nothing was guessed.",
        fix: "Open the lead's profile page instead; the extension's settings page shows " +
          "which selector failed.",
      });
      return;
    }
    await showThread(found, mine);
  }

  // The page changed (a pane rendered, the navigation came, a thread's heading
  // changed): read what depends on it again.
  let refreshQueued = false;
  function refresh() {
    refreshQueued = false;
    if (location.pathname !== shownPath) return; // a navigation: onPath reads the new page
    if (waiting) {
      waiting.look();
      return;
    }
    if (hello && readAccount() && ["card", "group"].includes(state.mode)) render();
    if (Page.routeOf(location.pathname).kind !== "thread") return;
    if (!["card", "group"].includes(state.mode) && !(state.mode === "hidden" && state.threadKey)) {
      return;
    }
    const read = Page.threadLead(document);
    if (!(read.handle || read.group) || threadKey(read) === state.threadKey) return;
    clearStamps();
    view.forget();
    state.sent = null;
    state.cardNumber = 0;
    generation += 1;
    showThread(read, generation);
  }

  new MutationObserver(() => {
    if (refreshQueued) return;
    refreshQueued = true;
    setTimeout(refresh, 50);
  }).observe(document.documentElement, {
    childList: true, subtree: true, attributes: true, attributeFilter: ["href"],
  });

  // -- actions from the card ------------------------------------------------------

  async function afterWrite(result, okText, form) {
    const { reply, number } = result;
    if (reply.ok) {
      if (form) view.forget(form);
      setCard(reply.card, number, { kind: "ok", text: okText });
      loadTeamCard(reply.card.handle, generation);
      return true;
    }
    state.ui = { ...state.ui, note: { kind: "error", text: reply.error.message } };
    render();
    return false;
  }

  const actions = {
    open(which) {
      if (state.ui.open && which === null) view.forget(state.ui.open);
      state.ui = { open: which, note: null };
      render();
    },
    async logDm({ message, actor, force }) {
      const handle = state.card.handle;
      state.ui.draft = { message, actor }; // kept if the host refuses it
      const result = await cardRequest({ type: "log_dm", handle, message, actor, force });
      if (handle === (state.card && state.card.handle)) await afterWrite(result, "DM recorded.", "log");
    },
    async setStatus(status) {
      const result = await cardRequest({ type: "set_status", handle: state.card.handle, status });
      await afterWrite(result, `Status set to ${status}.`, "status");
    },
    async addNote(note) {
      state.ui.draft = { note };
      const result = await cardRequest({ type: "add_note", handle: state.card.handle, note });
      await afterWrite(result, "Note added.", "note");
    },
    async recordReply() {
      const result = await cardRequest({ type: "reply", handle: state.card.handle,
        reply_id: state.replyId });
      await afterWrite(result, result.reply.ok && result.reply.was_contacted === false
        ? "Reply recorded. Nobody had recorded a DM to them: the lead is added."
        : "Reply recorded: follow-ups stop.");
    },
    async logSent(force) {
      const sent = state.sent;
      const actor = state.account && state.account.actor;
      if (!sent || !state.card || !actor) return;
      const { reply, number } = await cardRequest({ type: "log_dm", handle: state.card.handle,
        message: sent.text, actor, force, client_log_id: sent.id });
      if (state.sent !== sent) return;
      if (reply.ok) {
        state.sent = { ...sent, recorded: true, actor };
        view.forget("sent");
        setCard(reply.card, number);
        loadTeamCard(reply.card.handle, generation);
      } else {
        state.ui = { ...state.ui, note: { kind: "error", text: reply.error.message } };
        render();
      }
    },
    dismissSent() {
      state.sent = null;
      render();
    },
    // The page's account, registered as one of this teammate's (`dmledger actor add`).
    async registerAccount() {
      const page = state.account && state.account.page;
      if (!page) return;
      const reply = await host({ type: "add_actor", actor: page });
      if (reply.ok) {
        hello = reply.hello;
        readAccount();
        state.ui = { ...state.ui, note: { kind: "ok", text: `@${page} is now one of your accounts.` } };
        render();
        recordWaitingSend();
        return;
      }
      state.ui = { ...state.ui, note: { kind: "error", text: reply.error.message } };
      render();
    },
    // One of the team's accounts, chosen for this page by the setter.
    chooseAccount(actor) {
      if (!actor || !hello || !hello.actors.includes(actor)) return;
      chosen.set((state.account && state.account.page) || "", actor);
      view.forget("account");
      readAccount();
      render();
      recordWaitingSend();
    },
  };

  // A DM sent before the account was known, with "record without asking" on: recorded
  // once the setter said which account it was.
  function recordWaitingSend() {
    if (state.sent && !state.sent.recorded && settings.autoRecord && state.card &&
        state.card.verdict !== "excluded" && state.account && state.account.actor) {
      actions.logSent(false);
    }
  }

  // -- noticing a send (read: the composer's text, at the moment of sending) ---------

  function noticeSend(text, mine) {
    if (mine !== generation || state.mode !== "card" ||
        Page.routeOf(location.pathname).kind !== "thread") {
      return;
    }
    state.sent = { id: crypto.randomUUID(), text, recorded: false };
    render();
    if (settings.autoRecord && state.card.verdict !== "excluded" && state.account &&
        state.account.actor) {
      actions.logSent(false);
    }
  }

  // A send counts when the composer then empties (the site took the message); a send
  // that fails leaves the text there, and nothing is offered.
  function armSend(box) {
    const text = Page.composerText(box);
    if (!text || state.mode !== "card") return;
    const mine = generation;
    const started = performance.now();
    const check = () => {
      if (mine !== generation || !box.isConnected) return;
      if (!Page.composerText(box)) {
        noticeSend(text, mine);
        return;
      }
      if (performance.now() - started < SEND_WAIT_MS) setTimeout(check, 50);
    };
    setTimeout(check, 0);
  }

  document.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) {
      return;
    }
    const box = Page.composer(document);
    if (!box || !box.contains(event.target)) return;
    if (Page.suggestionsOpen(box)) return; // Enter picks a mention or an emoji
    armSend(box);
  }, true);

  document.addEventListener("click", (event) => {
    if (event.composedPath().includes(view.host)) return; // our own card
    const box = Page.composer(document);
    if (Page.isSendControl(event.target, box)) armSend(box);
  }, true);

  // -- following the single-page app -------------------------------------------------

  // Instagram changes the URL with history.pushState, which a content script cannot
  // hook; the Navigation API reports it where there is one, and a light poll covers
  // the rest (and back/forward).
  if (globalThis.navigation && navigation.addEventListener) {
    navigation.addEventListener("navigatesuccess", () => onPath());
    navigation.addEventListener("currententrychange", () => setTimeout(onPath, 0));
  }
  window.addEventListener("popstate", () => onPath());
  setInterval(onPath, POLL_MS);

  chrome.storage.local.get(["autoRecord", "position"], (saved) => {
    settings.autoRecord = !!saved.autoRecord;
    if (saved.position) view.setPosition(saved.position);
  });
  chrome.storage.onChanged.addListener((changes) => {
    if (changes.autoRecord) settings.autoRecord = !!changes.autoRecord.newValue;
  });

  onPath();
})();
