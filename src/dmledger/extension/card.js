// The card: built in an open shadow root on #dmledger-root, so the site's styles and
// ours never mix. Every piece of text goes in as a text node, never as HTML. It
// renders what the host answered (the verdict included) and what content.js tells
// it; it decides nothing about a lead.
"use strict";

globalThis.DMLedgerCard = (() => {
  const STYLE = `
:host { all: initial !important; }
.card { position: fixed; top: 72px; right: 16px; z-index: 2147483000; box-sizing: border-box;
  width: 330px; max-width: calc(100vw - 16px); max-height: calc(100vh - 88px); overflow: auto;
  font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1c1e21;
  background: #fff; border: 1px solid #d5d9de; border-radius: 12px;
  box-shadow: 0 8px 28px rgba(0,0,0,.18); }
.card * { box-sizing: border-box; }
@media (max-width: 520px) {
  /* A narrow window: the card spans it, so it leaves the bottom 140 px free, where a
     thread's composer is; it scrolls inside instead. */
  .card { right: 8px; max-width: calc(100vw - 16px); max-height: calc(100vh - 212px); }
}
.bar { display: flex; align-items: center; gap: 8px; padding: 7px 10px; cursor: grab;
  background: #f4f5f7; border-bottom: 1px solid #e3e6ea; border-radius: 12px 12px 0 0;
  user-select: none; touch-action: none; }
.bar:active { cursor: grabbing; }
.brand { font-weight: 700; font-size: 12px; letter-spacing: .02em; color: #4b5563; }
.who { flex: 1; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
  font-weight: 600; }
.icon-btn { border: 0; background: transparent; font-size: 16px; line-height: 1; width: 24px;
  height: 24px; border-radius: 6px; cursor: pointer; color: #4b5563; }
.icon-btn:hover { background: #e5e7eb; }
.verdict { padding: 10px 12px; display: grid; gap: 2px; }
.verdict strong { font-size: 15px; }
.v-not-contacted { background: #e8f6ee; } .v-not-contacted strong { color: #137a3d; }
.v-contacted { background: #fff4e0; } .v-contacted strong { color: #9a5b00; }
.v-excluded { background: #c62828; color: #fff; }
.v-excluded strong { font-size: 18px; letter-spacing: .05em; }
.v-unavailable, .v-unreadable, .v-loading, .v-group { background: #eef1f5; }
.account { font-size: 12px; color: #374151; margin: 0; }
.plain { margin: 0; }
.account-ask { border: 1px solid #fcd34d; background: #fffbeb; border-radius: 8px; padding: 8px;
  display: grid; gap: 6px; }
.body { padding: 8px 12px 12px; display: grid; gap: 8px; }
.body[hidden] { display: none; }
.facts { display: grid; grid-template-columns: auto 1fr; gap: 2px 10px; margin: 0; }
.facts dt { color: #6b7280; } .facts dd { margin: 0; overflow-wrap: anywhere; }
.pill { display: inline-block; padding: 0 7px; border-radius: 999px; background: #e5e7eb;
  font-size: 12px; }
.pill-pending { background: #fde68a; }
.section { font-size: 11px; text-transform: uppercase; letter-spacing: .06em; color: #6b7280;
  margin: 2px 0 0; }
.notes { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; max-height: 7em;
  overflow: auto; }
.dms { list-style: none; margin: 0; padding: 0; display: grid; gap: 6px; }
.dms li { border-left: 3px solid #d1d5db; padding-left: 8px; }
.dm-meta { color: #6b7280; font-size: 12px; }
.dm-text { white-space: pre-wrap; overflow-wrap: anywhere; max-height: 4.2em; overflow: hidden; }
.actions { display: flex; flex-wrap: wrap; gap: 6px; }
button.btn { font: inherit; border: 1px solid #c7ccd3; background: #fff; border-radius: 8px;
  padding: 4px 9px; cursor: pointer; white-space: nowrap; }
button.btn:hover { background: #f3f4f6; }
button.primary { background: #2563eb; border-color: #2563eb; color: #fff; }
button.primary:hover { background: #1d4ed8; }
button.danger { color: #b91c1c; border-color: #f1b5b5; margin-left: auto; }
form { display: grid; gap: 6px; margin: 0; }
textarea, input[type=text], select { font: inherit; width: 100%; border: 1px solid #c7ccd3;
  border-radius: 8px; padding: 5px 7px; background: #fff; color: inherit; }
textarea { resize: vertical; min-height: 4.5em; }
.row { display: flex; gap: 6px; align-items: center; }
.row > select, .row > input { flex: 1; min-width: 0; }
.confirm { color: #b91c1c; font-weight: 600; display: flex; gap: 6px; align-items: flex-start; }
.sent { border: 1px solid #93c5fd; background: #eff6ff; border-radius: 8px; padding: 8px;
  display: grid; gap: 6px; }
.sent q { white-space: pre-wrap; overflow-wrap: anywhere; }
.note { font-size: 12px; padding: 6px 8px; border-radius: 8px; background: #f3f4f6; }
.note-error { background: #fde8e8; color: #9b1c1c; }
.note-ok { background: #e8f6ee; color: #137a3d; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; background: #1f2937;
  color: #f9fafb; padding: 6px 8px; border-radius: 6px; display: block; overflow-wrap: anywhere;
  user-select: all; }
`;

  // h("div", {class: "x"}, "text", child): an element; strings become text nodes.
  function h(tag, attrs, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === false || value === null || value === undefined) continue;
      if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
      else if (value === true) element.setAttribute(name, "");
      else element.setAttribute(name, String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      element.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return element;
  }

  function when(iso) {
    if (!iso) return "—";
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return iso;
    return date.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
  }

  // The words come with the card (StatusCard.verdict_title and verdict_text): the
  // card adds only the day of the first DM, in the reader's time zone.
  function verdictBlock(card) {
    const v = card.verdict;
    const on = v === "contacted" && card.owner_actor && card.first_contacted
      ? ` on ${when(card.first_contacted)}` : "";
    const kind = v === "excluded" ? "v-excluded" : v === "contacted" ? "v-contacted"
      : "v-not-contacted";
    return h("div", { class: `verdict ${kind}`, role: v === "excluded" ? "alert" : null },
      h("strong", {}, card.verdict_title),
      h("span", {}, `${card.verdict_text}${on}.`));
  }

  // The team's accounts, with `chosen` selected; with nothing chosen, an empty first
  // choice the form cannot be sent with (no account is ever preselected by default).
  function actorSelect(hello, chosen, name, label) {
    const actors = hello.actors.length ? hello.actors : (hello.actor ? [hello.actor] : []);
    return h("select", { name, "aria-label": label, required: true },
      chosen ? null : h("option", { value: "", selected: true }, "Choose the account…"),
      actors.map((actor) => h("option", { value: actor, selected: actor === chosen }, actor)));
  }

  // Which account a DM from this page is credited to ("sending as …"), or, when the
  // page's account is not one of this teammate's or cannot be read, the question.
  function accountBlock(state, act) {
    const { account, hello } = state;
    if (!account || !hello) return null;
    if (account.actor) {
      const whose = account.kind === "team"
        ? ` (${account.owner ? `${account.owner}'s account` : "a teammate's account"})`
        : account.kind === "chosen" ? " (chosen for this page)" : "";
      return h("p", { class: "account", "data-part": "account" },
        `Sending as @${account.actor}${whose}`);
    }
    const said = account.page
      ? `This page is signed in as @${account.page}, which is not one of your accounts in DM Ledger.`
      : "DM Ledger can't see which account is signed in on this page.";
    return h("div", { class: "account-ask", "data-part": "account", role: "status" },
      h("span", {}, said),
      account.page
        ? h("button", { class: "btn", type: "button", "data-action": "register-account",
          onclick: () => act.registerAccount() }, `Register @${account.page} as mine`)
        : null,
      h("form", { class: "row", "data-form": "account", onsubmit: (event) => {
        event.preventDefault();
        act.chooseAccount(event.currentTarget.elements.account.value);
      } },
      actorSelect(hello, null, "account", "Account"),
      h("button", { class: "btn", type: "submit", "data-action": "choose-account" }, "Use it")));
  }

  function confirmBox(card) {
    if (card.verdict !== "excluded") return null;
    return h("label", { class: "confirm" },
      h("input", { type: "checkbox", name: "force" }),
      "I know they are excluded: record it anyway");
  }

  function cardBody(state, act) {
    const { card, hello, ui } = state;
    const parts = [];
    parts.push(accountBlock(state, act));
    if (state.sent) parts.push(sentBlock(state, act));
    if (ui.note) parts.push(h("div", { class: `note note-${ui.note.kind}`, role: "status" }, ui.note.text));
    if (card.known) parts.push(h("dl", { class: "facts" },
      h("dt", {}, "Status"),
      h("dd", {}, h("span", { class: "pill", "data-status": card.status }, card.status),
        card.pending_sync ? [" ", h("span", { class: "pill pill-pending" }, "not synced yet")] : null),
      h("dt", {}, "Owner"),
      h("dd", {}, card.owner_actor ? `${card.owner_actor}${card.owner_operator ? ` (${card.owner_operator})` : ""}` : "—"),
      h("dt", {}, "First DM"), h("dd", {}, when(card.first_contacted)),
      card.last_reply_at ? [h("dt", {}, "Replied"), h("dd", {}, when(card.last_reply_at))] : null));
    if (card.notes) {
      parts.push(h("p", { class: "section" }, "Notes"), h("p", { class: "notes" }, card.notes));
    }
    parts.push(dmsSection(state));
    if (ui.open === "log") {
      parts.push(h("form", { "data-form": "log", onsubmit: (event) => {
        event.preventDefault();
        const form = event.currentTarget;
        act.logDm({ message: form.elements.message.value, actor: form.elements.actor.value,
          force: !!(form.elements.force && form.elements.force.checked) });
      } },
      h("textarea", { name: "message", rows: 3, maxlength: 20000, required: true,
        placeholder: "Paste the message you sent…", "aria-label": "Message" },
        ui.draft ? ui.draft.message : ""),
      h("div", { class: "row" }, h("span", {}, "From"),
        actorSelect(hello, ui.draft ? ui.draft.actor : state.account && state.account.actor,
          "actor", "Sent from")),
      confirmBox(card),
      h("div", { class: "actions" },
        h("button", { class: "btn primary", type: "submit", "data-action": "submit-log" },
          card.verdict === "excluded" ? "Record DM anyway" : "Record DM"),
        h("button", { class: "btn", type: "button", onclick: () => act.open(null) }, "Cancel"))));
    } else if (ui.open === "note") {
      parts.push(h("form", { "data-form": "note", onsubmit: (event) => {
        event.preventDefault();
        act.addNote(event.currentTarget.elements.note.value);
      } },
      h("div", { class: "row" },
        h("input", { type: "text", name: "note", maxlength: 4000, required: true,
          placeholder: "e.g. Replied, call on Friday", "aria-label": "Note",
          value: ui.draft ? ui.draft.note : null }),
        h("button", { class: "btn primary", type: "submit", "data-action": "submit-note" }, "Add"))));
    }
    parts.push(h("form", { class: "row", "data-form": "status", onsubmit: (event) => {
      event.preventDefault();
      act.setStatus(event.currentTarget.elements.status.value);
    } },
    h("select", { name: "status", "aria-label": "Status" },
      hello.statuses.map((s) => h("option", { value: s, selected: s === card.status }, s))),
    h("button", { class: "btn", type: "submit", "data-action": "set-status" }, "Set status")));
    parts.push(h("div", { class: "actions" },
      ui.open === "log" ? null
        // Not the inviting blue button on a lead nobody may contact.
        : h("button", { class: card.verdict === "excluded" ? "btn" : "btn primary", type: "button",
          "data-action": "log-dm",
          onclick: () => act.open("log") }, "Log a DM"),
      ui.open === "note" ? null
        : h("button", { class: "btn", type: "button", "data-action": "add-note",
          onclick: () => act.open("note") }, "Add a note"),
      h("button", { class: "btn", type: "button", "data-action": "reply",
        title: "They answered: record when (never what). Follow-ups stop.",
        onclick: () => act.recordReply() }, "They replied"),
      card.verdict === "excluded" ? null
        : h("button", { class: "btn danger", type: "button", "data-action": "exclude",
          onclick: () => act.setStatus("excluded") }, "Do not contact")));
    return parts;
  }

  // The last DMs: the team's once the host sent the card with them (team_dms
  // "included"), this machine's until then.
  function dmsSection(state) {
    const { card } = state;
    const part = h("div", { "data-part": "dms", "data-team": card.team_dms === "included" ? "yes" : "no" });
    if (card.recent_logs.length) {
      part.append(h("p", { class: "section" }, "Last DMs"), h("ol", { class: "dms" },
        card.recent_logs.slice(0, 3).map((item) => h("li", {},
          h("div", { class: "dm-meta" },
            `${item.actor || "?"} · ${item.operator || "?"} · ${when(item.sent_at)}`,
            item.synced ? "" : " · not synced yet"),
          h("div", { class: "dm-text" }, item.message)))));
    }
    if (card.team_dms === "unavailable") {
      part.append(h("p", { class: "dm-meta" }, `Only this machine's DMs: ${card.team_error}.`));
    }
    return part;
  }

  function sentBlock(state, act) {
    const { sent, card } = state;
    if (sent.recorded) {
      return h("div", { class: "sent", "data-sent": "recorded" },
        `Recorded the DM you sent, from @${sent.actor}.`);
    }
    const account = state.account && state.account.actor;
    return h("form", { class: "sent", "data-sent": "ask", "data-form": "sent", onsubmit: (event) => {
      event.preventDefault();
      const force = event.currentTarget.elements.force;
      act.logSent(!!(force && force.checked));
    } },
    h("strong", {}, "Record this DM?"),
    h("q", {}, sent.text),
    account ? null : h("span", {}, "Choose the account it was sent from first (above)."),
    confirmBox(card),
    h("div", { class: "actions" },
      h("button", { class: "btn primary", type: "submit", "data-action": "log-sent",
        disabled: !account }, "Record it"),
      h("button", { class: "btn", type: "button", "data-action": "dismiss-sent",
        onclick: () => act.dismissSent() }, "No")));
  }

  function problemBody(state) {
    const parts = [h("p", {}, state.problem.message)];
    const fix = state.problem.fix;
    if (fix) {
      // A command goes in a box to copy; anything else is a sentence.
      parts.push(h("p", { class: "section" }, "To fix it"),
        fix.startsWith("dmledger ") ? h("code", {}, fix) : h("p", {}, fix));
    }
    return parts;
  }

  function groupBody() {
    return [h("p", { class: "plain" }, "DM Ledger records DMs to one lead at a time, so it names no one " +
      "in a group thread. Open a lead's profile to see their card.")];
  }

  function problemVerdict(state) {
    const title = state.verdict === "unreadable" ? "Can't read this page"
      : "DM Ledger is not available";
    return h("div", { class: `verdict v-${state.verdict}`, role: "status" }, h("strong", {}, title));
  }

  // The card's style in its shadow root: a constructed sheet, or where assigning one
  // throws (Firefox's content scripts, whose objects reach the page through wrappers)
  // a <style> element with the same text.
  function adoptStyle(shadow, doc, css) {
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      shadow.adoptedStyleSheets = [sheet];
    } catch (refused) {
      const style = doc.createElement("style");
      style.textContent = css;
      shadow.append(style);
    }
  }

  function mount(doc, onMove) {
    // Not a div: the site's rules for divs (or any tag it uses) cannot reach it, and its
    // display is set inline with !important, which no stylesheet of the page overrides.
    const host = doc.createElement("dmledger-card");
    host.id = "dmledger-root";
    const show = (visible) => host.style.setProperty("display", visible ? "block" : "none", "important");
    show(false);
    const shadow = host.attachShadow({ mode: "open" });
    adoptStyle(shadow, doc, STYLE);
    const frame = h("section", { class: "card", "aria-label": "DM Ledger" });
    shadow.append(frame);
    let collapsed = false;
    let position = null;
    // What the setter chose or typed in the card's fields, by form and name: a render
    // (an answer arriving) puts it back, so nothing they are doing is undone.
    const touched = new Map();
    const fieldKey = (field) => {
      if (!field || !field.name) return null;
      const form = field.closest("[data-form]");
      return `${form ? form.dataset.form : ""}|${field.name}`;
    };
    const remember = (event) => {
      const key = fieldKey(event.target);
      if (key) touched.set(key, event.target.type === "checkbox" ? event.target.checked : event.target.value);
    };
    frame.addEventListener("input", remember);
    frame.addEventListener("change", remember);

    function restore(focusKey, selection) {
      for (const field of frame.querySelectorAll("[name]")) {
        const key = fieldKey(field);
        if (!touched.has(key)) continue;
        const value = touched.get(key);
        if (field.type === "checkbox") field.checked = !!value;
        else if (field.tagName !== "SELECT" || [...field.options].some((o) => o.value === value)) {
          field.value = value;
        }
      }
      if (!focusKey) return;
      const again = [...frame.querySelectorAll("[name]")].find((f) => fieldKey(f) === focusKey);
      if (!again) return;
      again.focus();
      if (selection && typeof again.setSelectionRange === "function") {
        try { again.setSelectionRange(selection[0], selection[1]); } catch (error) { /* a select */ }
      }
    }

    function place() {
      if (!position) return;
      const x = Math.max(0, Math.min(position.x, window.innerWidth - 60));
      const y = Math.max(0, Math.min(position.y, window.innerHeight - 40));
      frame.style.left = `${x}px`;
      frame.style.top = `${y}px`;
      frame.style.right = "auto";
    }

    // The drag is held by the frame, which outlives every render: a card re-rendered
    // mid-drag (an answer arriving) replaces the bar, and a capture on it would be lost.
    function dragFrom(event) {
      if (!event.target.closest(".bar") || event.target.closest("button")) return;
      const rect = frame.getBoundingClientRect();
      const dx = event.clientX - rect.left;
      const dy = event.clientY - rect.top;
      frame.setPointerCapture(event.pointerId);
      const move = (e) => { position = { x: e.clientX - dx, y: e.clientY - dy }; place(); };
      const up = () => {
        frame.removeEventListener("pointermove", move);
        frame.removeEventListener("pointerup", up);
        if (position) onMove(position);
      };
      frame.addEventListener("pointermove", move);
      frame.addEventListener("pointerup", up);
    }
    frame.addEventListener("pointerdown", dragFrom);

    function render(state, act) {
      if (state.mode === "hidden") {
        show(false);
        frame.replaceChildren();
        return;
      }
      show(true);
      const handle = state.handle || (state.card && state.card.handle) || "";
      const bar = h("div", { class: "bar" },
        h("span", { class: "brand" }, "DM Ledger"),
        h("span", { class: "who" }, handle ? `@${handle}` : ""),
        h("button", { class: "icon-btn", type: "button", title: collapsed ? "Expand" : "Collapse",
          "aria-label": collapsed ? "Expand" : "Collapse", "data-action": "collapse",
          onclick: () => { collapsed = !collapsed; render(state, act); } }, collapsed ? "+" : "–"));
      let verdict;
      let body = [];
      if (state.mode === "loading") {
        verdict = h("div", { class: "verdict v-loading", role: "status" }, h("span", {}, "Checking…"));
      } else if (state.mode === "problem") {
        verdict = problemVerdict(state);
        body = problemBody(state);
      } else if (state.mode === "group") {
        verdict = h("div", { class: "verdict v-group", role: "status" },
          h("strong", {}, "Group conversation"));
        body = groupBody();
      } else {
        verdict = verdictBlock(state.card);
        body = cardBody(state, act);
      }
      const shown = state.mode === "card" ? state.card.verdict
        : state.mode === "problem" ? state.verdict : state.mode === "group" ? "group" : null;
      const panel = h("div", {
        class: "panel",
        "data-verdict": shown,
        "data-handle": state.mode === "group" ? null : handle || null,
        "data-state": state.mode,
        // The account a DM would be credited to; empty when none is known.
        "data-account": (state.account && state.account.actor) || "",
      }, verdict, h("div", { class: "body", hidden: collapsed }, body));
      const active = shadow.activeElement;
      const focusKey = active && frame.contains(active) ? fieldKey(active) : null;
      const selection = focusKey && typeof active.selectionStart === "number"
        ? [active.selectionStart, active.selectionEnd] : null;
      frame.replaceChildren(bar, panel);
      restore(focusKey, selection);
      place();
    }

    return {
      host,
      render,
      // Forget what the setter typed or chose: in one form (after it was sent), or all.
      forget(form) {
        for (const key of [...touched.keys()]) {
          if (form === undefined || key.startsWith(`${form}|`)) touched.delete(key);
        }
      },
      setPosition(saved) { position = saved; place(); },
      attach() { if (!host.isConnected) doc.documentElement.append(host); },
    };
  }

  return { mount };
})();
