// The service worker: the one connection to DM Ledger's native host. Content scripts
// and the options page send {kind: "host", request}; the answer is the host's reply,
// or an error reply saying what is missing and the command that fixes it. An open
// native port keeps the worker alive, so the host starts once, not per request.

const HOST = "com.dmledger.host";
const TIMEOUT_MS = 10000;

let port = null;
let nextId = 1;
const pending = new Map(); // id -> {resolve, timer}

function failure(type, message, fix) {
  return { ok: false, error: { type, message, fix } };
}

// Chrome says "Specified native messaging host not found." / "Access to the specified
// native messaging host is forbidden."; Firefox says "No such native application …" for
// both (a host that does not list this add-on is not found there).
function explain(lastError) {
  const text = (lastError && lastError.message) || "the native host stopped";
  if (/not found|no such native application/i.test(text)) {
    return failure("host_missing", "DM Ledger's native host is not installed for this browser.",
      "dmledger browser install");
  }
  if (/forbidden/i.test(text)) {
    // A copy from a store has the id the store gave it: the host must allow that id.
    const id = chrome.runtime.id;
    return failure("host_forbidden",
      `DM Ledger's native host does not allow this copy of the extension (id ${id}).`,
      `dmledger browser install --extension-id ${id}`);
  }
  return failure("host_exited", `DM Ledger's native host stopped: ${text}`,
    "dmledger browser status");
}

function connect() {
  const opened = chrome.runtime.connectNative(HOST);
  opened.onMessage.addListener((reply) => {
    const waiting = pending.get(reply && reply.id);
    if (!waiting) return; // a reply to a request that timed out
    pending.delete(reply.id);
    clearTimeout(waiting.timer);
    waiting.resolve(reply);
  });
  opened.onDisconnect.addListener((gone) => {
    // Chrome reports why in runtime.lastError, Firefox in the port's error.
    const answer = explain(chrome.runtime.lastError || (gone && gone.error));
    if (port === opened) port = null;
    for (const [id, waiting] of pending) {
      clearTimeout(waiting.timer);
      waiting.resolve({ ...answer, id });
    }
    pending.clear();
  });
  return opened;
}

function callHost(request) {
  return new Promise((resolve) => {
    const id = nextId++;
    const timer = setTimeout(() => {
      pending.delete(id);
      resolve(failure("timeout", `DM Ledger did not answer within ${TIMEOUT_MS / 1000} s.`,
        "dmledger status"));
    }, TIMEOUT_MS);
    pending.set(id, { resolve, timer });
    try {
      if (!port) port = connect();
      port.postMessage({ ...request, id });
    } catch (error) {
      pending.delete(id);
      clearTimeout(timer);
      port = null;
      resolve(explain(error));
    }
  });
}

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (sender.id !== chrome.runtime.id || !message) return false;
  if (message.kind === "host" && message.request && typeof message.request === "object") {
    callHost(message.request).then(sendResponse);
    return true; // answered asynchronously
  }
  if (message.kind === "pending") {
    sendResponse({ pending: pending.size, connected: port !== null });
    return false;
  }
  return false;
});

// Start the host when the browser (or the extension) starts, not on the first card:
// its Python takes about 0.3 s to start on an idle machine, more while the browser
// itself starts, and the card should not wait for it. The onStartup listener is what
// makes the browser run this worker at its start; the worker then connects as soon as
// it runs, before the event is dispatched. Any later start of the worker reconnects.
function warm() {
  if (!port) {
    try {
      port = connect();
    } catch (error) {
      port = null; // said again, with the fix, to the first request that needs the host
    }
  }
}
chrome.runtime.onStartup.addListener(warm);
chrome.runtime.onInstalled.addListener(warm);
warm();

// The toolbar button opens the settings (connection, recording, the page self-check).
chrome.action.onClicked.addListener(() => chrome.runtime.openOptionsPage());
