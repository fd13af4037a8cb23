// The options page: the host's state, the "record without asking" setting, and which
// of the page selectors failed the last self-check.

const Page = globalThis.DMLedgerPage;

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function showSelfCheck(check) {
  const body = document.querySelector("#self-check tbody");
  body.replaceChildren();
  const results = (check && check.results) || {};
  for (const [name, selector] of Object.entries(Page.SELECTORS)) {
    const row = document.createElement("tr");
    row.dataset.selector = name;
    const code = document.createElement("code");
    code.textContent = selector;
    const where = document.createElement("td");
    where.append(code);
    const known = name in results || (check && check.failed === name);
    const failed = (check && check.failed === name) || results[name] === false;
    row.dataset.result = !known ? "unchecked" : failed ? "failed" : "ok";
    row.append(cell(name), where,
      cell(!known ? "not checked" : failed ? "FAILED" : "ok", !known ? "" : failed ? "failed" : "ok"));
    body.append(row);
  }
  document.getElementById("self-check-when").textContent = check
    ? `Checked ${new Date(check.at).toLocaleString()} on a ${check.page} page.`
    : "Not checked yet: open an Instagram profile or DM thread.";
}

function showHost(reply) {
  const line = document.getElementById("host-state");
  const fix = document.getElementById("host-fix");
  if (reply && reply.ok) {
    line.dataset.hostState = "ok";
    line.textContent = `Connected to DM Ledger as ${reply.hello.operator}` +
      (reply.hello.actor ? ` (sending account ${reply.hello.actor}).` : ".");
    fix.hidden = true;
    return;
  }
  const error = (reply && reply.error) || { message: "No answer from the extension." };
  line.dataset.hostState = error.type || "error";
  line.textContent = error.message;
  fix.hidden = !error.fix;
  fix.textContent = error.fix || "";
}

const auto = document.getElementById("auto-record");
chrome.storage.local.get(["autoRecord", "selfCheck"], (saved) => {
  auto.checked = !!saved.autoRecord;
  showSelfCheck(saved.selfCheck);
});
auto.addEventListener("change", () => chrome.storage.local.set({ autoRecord: auto.checked }));
chrome.storage.onChanged.addListener((changes) => {
  if (changes.selfCheck) showSelfCheck(changes.selfCheck.newValue);
});
chrome.runtime.sendMessage({ kind: "host", request: { type: "hello" } }, showHost);
