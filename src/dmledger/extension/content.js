// The controller in the Instagram tab: follows the site's in-app navigation, asks the
// host (through the service worker) for the card of the lead on screen, and offers to
// record a DM when the setter sends one. It never types, sends or clicks anything.
"use strict";

(() => {
  const Page = globalThis.DMLedgerPage;
  const Card = globalThis.DMLedgerCard;
  const THREAD_WAIT_MS = 1500; // a thread's header renders after its URL changes
  const POLL_MS = 200;

  const state = { mode: "hidden", ui: { open: null, note: null } };
  let hello = null;
  let helloError = null;
  let shownPath = null;
  let generation = 0; // bumps on every navigation: late replies for old pages are dropped
  let settings = { autoRecord: false };

  const view = Card.mount(document, (position) => chrome.storage.local.set({ position }));

  function host(request) {
    return new Promise((resolve) => {
      try {
        chrome.runtime.sendMessage({ kind: "host", request }, (reply) => {
          if (chrome.runtime.lastError || !reply) {
            resolve({ ok: false, error: { type: "extension", message:
              "The extension's background worker did not answer; reload the page.",
              fix: "reload the page (or the extension in chrome://extensions)" } });
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
    if (state.mode === "card" || state.mode === "problem") stamp("shownAt");
  }

  function showProblem(verdict, handle, problem) {
    Object.assign(state, { mode: "problem", verdict, handle, problem, card: null });
    render();
  }

  function setCard(card, note) {
    Object.assign(state, { mode: "card", card, handle: card.handle, problem: null });
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
      return true;
    }
    helloError = reply;
    return false;
  }

  function ownAccounts() {
    return new Set(hello ? hello.own_actors : []);
  }

  async function showLead(handle, mine) {
    if (!(await ensureHello())) {
      if (mine === generation) showProblem("unavailable", handle, replyProblem(helloError));
      return;
    }
    if (mine !== generation) return;
    if (ownAccounts().has(handle)) {
      Object.assign(state, { mode: "hidden", card: null });
      render();
      return;
    }
    const reply = await host({ type: "card", handle });
    if (mine !== generation) return;
    if (reply.ok) {
      setCard(reply.card);
      loadTeamCard(handle, mine);
    } else {
      showProblem("unavailable", handle, replyProblem(reply));
    }
  }

  // The card with the team's DMs comes after the local one: the host may have to ask
  // the cloud. It can change the verdict too (a teammate's DM not synced here yet), so
  // it is shown whole, unless a form is open: then only the DMs change under it.
  async function loadTeamCard(handle, mine) {
    const reply = await host({ type: "card", handle, team: true });
    if (mine !== generation || !reply.ok || !state.card || state.card.handle !== handle) return;
    state.card = reply.card;
    if (state.ui.open) view.updateDms({ ...state, hello });
    else render();
    stamp("teamAt");
  }

  function waitForThread(mine) {
    return new Promise((resolve) => {
      const started = performance.now();
      const look = () => {
        if (mine !== generation) return resolve(null);
        const lead = Page.threadLead(document, ownAccounts());
        const composer = Page.composer(document);
        if (lead.handle && composer) return resolve({ handle: lead.handle });
        if (performance.now() - started > THREAD_WAIT_MS) {
          return resolve({ failed: lead.failed || "composer" });
        }
        setTimeout(look, 50);
      };
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

  async function onPath() {
    const path = location.pathname;
    if (path === shownPath) return;
    shownPath = path;
    generation += 1;
    const mine = generation;
    clearStamps();
    state.sent = null;
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
    await showLead(found.handle, mine);
  }

  // -- actions from the card ------------------------------------------------------

  async function afterWrite(reply, okText) {
    if (reply.ok) {
      setCard(reply.card, { kind: "ok", text: okText });
      loadTeamCard(reply.card.handle, generation);
      return true;
    }
    state.ui = { ...state.ui, note: { kind: "error", text: reply.error.message } };
    render();
    return false;
  }

  const actions = {
    open(which) {
      state.ui = { open: which, note: null };
      render();
    },
    async logDm({ message, actor, force }) {
      const handle = state.card.handle;
      state.ui.draft = { message, actor }; // kept if the host refuses it
      const reply = await host({ type: "log_dm", handle, message, actor, force });
      if (handle === (state.card && state.card.handle)) await afterWrite(reply, "DM recorded.");
    },
    async setStatus(status) {
      const reply = await host({ type: "set_status", handle: state.card.handle, status });
      await afterWrite(reply, `Status set to ${status}.`);
    },
    async addNote(note) {
      state.ui.draft = { note };
      const reply = await host({ type: "add_note", handle: state.card.handle, note });
      await afterWrite(reply, "Note added.");
    },
    async recordReply() {
      const reply = await host({ type: "reply", handle: state.card.handle,
        reply_id: state.replyId });
      await afterWrite(reply, reply.ok && reply.was_contacted === false
        ? "Reply recorded. Nobody had recorded a DM to them: the lead is added."
        : "Reply recorded: follow-ups stop.");
    },
    async logSent(force) {
      const sent = state.sent;
      if (!sent || !state.card) return;
      const reply = await host({ type: "log_dm", handle: state.card.handle, message: sent.text,
        actor: hello.actor || undefined, force, client_log_id: sent.id });
      if (state.sent !== sent) return;
      if (reply.ok) {
        state.sent = { ...sent, recorded: true };
        setCard(reply.card);
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
  };

  // -- noticing a send (read: the composer's text, at the moment of sending) ---------

  function noticeSend(text) {
    if (!text || state.mode !== "card" || Page.routeOf(location.pathname).kind !== "thread") {
      return;
    }
    state.sent = { id: crypto.randomUUID(), text, recorded: false };
    render();
    if (settings.autoRecord && state.card.verdict !== "excluded") actions.logSent(false);
  }

  document.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    const composer = Page.composer(document);
    if (composer && composer.contains(event.target)) noticeSend(Page.composerText(composer));
  }, true);

  document.addEventListener("click", (event) => {
    if (event.composedPath().includes(view.host)) return; // our own card
    if (!Page.isSendControl(event.target)) return;
    noticeSend(Page.composerText(Page.composer(document)));
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
