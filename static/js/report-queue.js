/* The offline queue of reports (issue 10): a report written without signal is kept in IndexedDB on the
   phone and sent when the connection returns, by the page (online event, a timer) or by the service worker
   (Background Sync). Each report carries its own id (client_ref): sent twice, it is stored once.
   Works in a page and in a service worker (no DOM). */
(function (scope) {
  "use strict";
  var DB = "pantau-reports", STORE = "queue", flushing = null;

  function open() {
    return new Promise(function (resolve, reject) {
      var req = scope.indexedDB.open(DB, 1);
      req.onupgradeneeded = function () { req.result.createObjectStore(STORE, { keyPath: "id" }); };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }

  function tx(mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(STORE, mode), store = t.objectStore(STORE), out = work(store);
        t.oncomplete = function () { db.close(); resolve(out && out.result !== undefined ? out.result : out); };
        t.onerror = function () { db.close(); reject(t.error); };
      });
    });
  }

  function newId() {
    if (scope.crypto && scope.crypto.randomUUID) { return scope.crypto.randomUUID(); }
    var s = "";
    for (var i = 0; i < 32; i++) { s += Math.floor(Math.random() * 16).toString(16); }
    return s.slice(0, 8) + "-" + s.slice(8, 12) + "-" + s.slice(12, 16) + "-" + s.slice(16, 20) + "-" + s.slice(20);
  }

  /* entry: {id, fields: {name: value}, files: [{name, type, blob}], queuedAt, attempts, state, message, code} */
  function add(entry) { return tx("readwrite", function (s) { return s.put(entry); }); }
  function put(entry) { return tx("readwrite", function (s) { return s.put(entry); }); }
  function remove(id) { return tx("readwrite", function (s) { return s.delete(id); }); }
  function all() { return tx("readonly", function (s) { return s.getAll(); }); }

  function send(entry, base) {
    return fetch(base + "/lapor/token", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error("token " + r.status); } return r.json(); })
      .then(function (token) {
        var body = new FormData();
        Object.keys(entry.fields).forEach(function (k) { body.append(k, entry.fields[k]); });
        body.set("csrf_token", token.csrf_token);
        body.set("client_ref", entry.id);
        body.set("queued", "1");
        (entry.files || []).forEach(function (f) { body.append("photos", f.blob, f.name || "photo"); });
        return fetch(base + "/lapor", { method: "POST", body: body, credentials: "same-origin",
                                        headers: { Accept: "application/json" } });
      });
  }

  /* Send every waiting report once. Resolves to {sent: [...], refused: [...], waiting: n}. A report the
     portal refuses (4xx other than 429) is kept with its message for the person to see; one that fails on
     the network, a 429 or a 5xx waits for the next try. */
  function flush(base) {
    if (flushing) { return flushing; }
    base = base || "";
    flushing = all().then(function (entries) {
      var result = { sent: [], refused: [], waiting: 0 };
      var chain = Promise.resolve();
      entries.forEach(function (entry) {
        if (entry.state !== "queued") { return; }
        chain = chain.then(function () {
          return send(entry, base).then(function (r) {
            return r.json().catch(function () { return {}; }).then(function (data) {
              if (r.ok && data.tracking_code) {
                entry.state = "sent"; entry.code = data.tracking_code; entry.url = data.url; entry.files = [];
                result.sent.push(entry);
                return put(entry);
              }
              if (r.status === 429 || r.status >= 500 || r.status === 400 && data.field === "form") {
                entry.attempts = (entry.attempts || 0) + 1; result.waiting += 1;
                return put(entry);
              }
              entry.state = "refused"; entry.message = data.message || String(r.status); entry.files = [];
              result.refused.push(entry);
              return put(entry);
            });
          }, function () {
            entry.attempts = (entry.attempts || 0) + 1; result.waiting += 1;
            return put(entry);
          });
        });
      });
      return chain.then(function () { return result; });
    });
    var done = function () { flushing = null; };
    flushing.then(done, done);
    return flushing;
  }

  scope.PantauQueue = { add: add, put: put, remove: remove, all: all, flush: flush, newId: newId };
})(typeof self !== "undefined" ? self : window);
