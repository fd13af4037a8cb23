// DM Ledger — the little JavaScript the pages use. Every page works without it; this
// makes them faster to drive from the keyboard. No libraries, no inline handlers
// (the Content-Security-Policy forbids inline script), text is set with textContent.
"use strict";

(function () {
  document.documentElement.classList.add("js");
  const csrf = document.body.dataset.csrf || "";
  const $ = (selector, root) => (root || document).querySelector(selector);
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));

  // -- times: UTC from the server, shown in the viewer's time zone -------------------------
  function localTimes(root) {
    $$("time[data-local]", root).forEach((el) => {
      const iso = (el.getAttribute("datetime") || "").replace(/(\.\d{3})\d+/, "$1");
      const date = new Date(iso);
      if (Number.isNaN(date.getTime())) return;
      el.textContent = date.toLocaleString(undefined, {
        year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
      });
    });
  }

  // -- talking to the app ----------------------------------------------------------------------
  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": csrf },
    });
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (!response.ok) {
      const message = data && data.error ? data.error.message : "the request failed (" + response.status + ")";
      throw new Error(message);
    }
    return data;
  }

  // -- Check: paste and go; remember recent checks -------------------------------------------
  const checkForm = $("[data-check-form]");
  if (checkForm) {
    const input = $("input[name=q]", checkForm);
    input.addEventListener("paste", () => {
      window.setTimeout(() => { if (input.value.trim()) checkForm.requestSubmit(); }, 0);
    });
    if (input.value) input.select();
    const card = $("#card");
    const recentKey = "dmledger.recent";
    let recent = [];
    try { recent = JSON.parse(window.localStorage.getItem(recentKey) || "[]"); } catch (_) { recent = []; }
    if (!Array.isArray(recent)) recent = [];
    if (card && card.dataset.handle) {
      recent = [card.dataset.handle].concat(recent.filter((h) => h !== card.dataset.handle)).slice(0, 10);
      try { window.localStorage.setItem(recentKey, JSON.stringify(recent)); } catch (_) { /* private mode */ }
    }
    const recentBox = $("[data-recent]");
    if (recentBox && recent.length) {
      const list = $("[data-recent-list]", recentBox);
      recent.forEach((handle) => {
        if (typeof handle !== "string") return;
        const li = document.createElement("li");
        const a = document.createElement("a");
        a.href = "/?q=" + encodeURIComponent(handle);
        a.textContent = "@" + handle;
        li.appendChild(a);
        list.appendChild(li);
      });
      recentBox.hidden = false;
    }
  }

  // -- keyboard ----------------------------------------------------------------------------------
  const help = $("#help");
  function openHelp() { if (help && !help.open) help.showModal(); }
  $$("[data-open-help]").forEach((b) => b.addEventListener("click", openHelp));

  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }
  let pendingG = 0;
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      const form = target && target.closest ? target.closest("form[data-ctrl-enter]") : null;
      if (form) { event.preventDefault(); form.requestSubmit(); }
      return;
    }
    if (event.key === "Escape" && typing(target)) { target.blur(); return; }
    if (typing(target) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (pendingG && Date.now() - pendingG < 1500) {
      pendingG = 0;
      const link = $('a[data-shortcut="g ' + event.key + '"]');
      if (link) { event.preventDefault(); window.location.href = link.getAttribute("href"); }
      return;
    }
    if (event.key === "g") { pendingG = Date.now(); return; }
    if (event.key === "?") { event.preventDefault(); openHelp(); return; }
    if (event.key === "/") {
      const box = $("[data-primary-input]");
      event.preventDefault();
      if (box) { box.focus(); box.select(); } else { window.location.href = "/"; }
      return;
    }
    const field = $('[data-shortcut-target="' + event.key + '"]');
    if (field) { event.preventDefault(); field.focus(); }
  });

  // -- inline status menus (Leads) ------------------------------------------------------------
  $$("form[data-inline-status]").forEach((form) => {
    const select = $("select", form);
    const saved = $("[data-saved]", form);
    let current = select.value;
    select.addEventListener("change", async () => {
      // One character, explained by its title and read out as words (aria-label).
      const show = (mark, words, error) => {
        saved.textContent = mark;
        saved.title = words;
        saved.setAttribute("aria-label", words);
        saved.classList.toggle("error", error);
      };
      show("…", "Saving…", false);
      try {
        const data = await post(form.action, new FormData(form));
        current = data.status;
        // Swap only the status-<name> class: status-select keeps the menu's look.
        [...select.classList].filter((c) => c.startsWith("status-") && c !== "status-select")
          .forEach((c) => select.classList.remove(c));
        select.classList.add("status-" + current);
        show("✓", "Saved", false);
        window.setTimeout(() => { if (saved.textContent === "✓") show("", "", false); }, 2500);
      } catch (error) {
        select.value = current;
        show("!", "Not saved: " + error.message, true);
      }
    });
  });

  // -- bulk selection (Leads) -----------------------------------------------------------------------
  const bulk = $("[data-bulk]");
  if (bulk) {
    const boxes = $$('input[name="handles"][form="bulk"]');
    const all = $("[data-select-all]");
    const count = $("[data-bulk-count]", bulk);
    const submit = $("[data-bulk-submit]", bulk);
    const update = () => {
      const n = boxes.filter((b) => b.checked).length;
      count.textContent = n ? n + " selected" : "Select leads to change many at once";
      submit.disabled = n === 0;
      if (n) bulk.setAttribute("data-active", ""); else bulk.removeAttribute("data-active");
      if (all) { all.checked = n > 0 && n === boxes.length; all.indeterminate = n > 0 && n < boxes.length; }
    };
    boxes.forEach((b) => b.addEventListener("change", update));
    if (all) all.addEventListener("change", () => { boxes.forEach((b) => { b.checked = all.checked; }); update(); });
    update();
  }

  $$("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.requestSubmit());
  });

  // -- Team period: a click shows it; custom waits for its dates ---------------------------------
  $$("input[data-autosubmit-radio]").forEach((radio) => {
    radio.addEventListener("change", () => {
      if (radio.value === "custom") {
        const first = $("input[data-custom-date]", radio.form);
        if (first) first.focus();
      } else {
        radio.form.requestSubmit();
      }
    });
  });
  $$("input[data-custom-date]").forEach((input) => {
    input.addEventListener("change", () => {
      const custom = $('input[name="period"][value="custom"]', input.form);
      if (custom) custom.checked = true;
    });
  });

  // -- typed confirmation (factory reset) ------------------------------------------------------------
  $$("form[data-typed-confirm]").forEach((form) => {
    const word = form.dataset.typedConfirm;
    const input = $("input[name=confirm]", form);
    const button = $("[data-confirm-button]", form);
    const update = () => { button.disabled = input.value.trim() !== word; };
    input.addEventListener("input", update);
    update();
  });

  // -- parts loaded after the page (team DMs from the cloud, counts) --------------------------------
  $$("[data-fragment-src]").forEach(async (box) => {
    try {
      const response = await fetch(box.dataset.fragmentSrc, { credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      box.innerHTML = await response.text(); // server-rendered, autoescaped HTML
      localTimes(box);
    } catch (_) {
      const loading = $("[data-loading]", box);
      if (loading) loading.textContent = "Could not load the team's DMs.";
    }
  });

  $$("[data-count-src]").forEach(async (el) => {
    try {
      const response = await fetch(el.dataset.countSrc, { credentials: "same-origin", headers: { "Accept": "application/json" } });
      if (!response.ok) return;
      const data = await response.json();
      const n = Number(data.count);
      el.textContent = n.toLocaleString() + (n === 1 ? " lead matches." : " leads match.");
    } catch (_) { /* the description stays */ }
  });

  // -- the sync indicator -------------------------------------------------------------------------------
  const sync = $("#sync");
  if (sync) {
    const label = $("#sync-label");
    const button = $("#sync-now");
    const refresh = async () => {
      try {
        const response = await fetch("/ui/sync", { credentials: "same-origin", headers: { "Accept": "application/json" } });
        if (!response.ok) return null;
        const data = await response.json();
        sync.dataset.state = data.state;
        label.textContent = data.label;
        const link = $(".sync-status", sync);
        link.title = data.last_error || (data.last_sync_at ? "Last sync " + data.last_sync_at : "Not synced yet");
        return data;
      } catch (_) { return null; }
    };
    window.setInterval(() => { if (!document.hidden) refresh(); }, 15000);
    button.addEventListener("click", async (event) => {
      event.preventDefault();
      sync.setAttribute("data-busy", "");
      button.disabled = true;
      try {
        await post("/sync", new FormData(button.form));
        for (let i = 0; i < 8; i += 1) {
          await new Promise((resolve) => window.setTimeout(resolve, 750));
          const data = await refresh();
          if (data && data.state !== "pending" && data.state !== "never") break;
        }
      } catch (error) {
        label.textContent = error.message;
      } finally {
        sync.removeAttribute("data-busy");
        button.disabled = false;
      }
    });
  }

  localTimes(document);
})();
