/* The service worker of /lapor: the form opens without signal (its page and files are kept), and reports
   queued offline are sent by Background Sync when the connection returns, even with the page closed. */
"use strict";
var CACHE = "pantau-lapor-v1";
var SHELL = ["/lapor", "/static/css/pantau.css", "/static/css/report.css", "/static/js/report.js",
             "/static/js/report-queue.js", "/static/vendor/leaflet/leaflet.js", "/static/vendor/leaflet/leaflet.css",
             "/static/vendor/htmx/htmx.min.js", "/static/img/report-192.png"];
importScripts("/static/js/report-queue.js");

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.addAll(SHELL); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== CACHE; }).map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var req = event.request;
  if (req.method !== "GET") { return; }  // reports themselves go to the network (the page queues them)
  var url = new URL(req.url);
  if (url.origin !== self.location.origin) { return; }
  if (req.mode === "navigate" && url.pathname === "/lapor") {
    // the newest form when there is signal, the kept one when there is none
    event.respondWith(fetch(req).then(function (res) {
      if (res.ok) { var copy = res.clone(); caches.open(CACHE).then(function (c) { c.put("/lapor", copy); }); }
      return res;
    }).catch(function () { return caches.match("/lapor"); }));
    return;
  }
  if (SHELL.indexOf(url.pathname) > 0) {
    event.respondWith(fetch(req).then(function (res) {
      if (res.ok) { var copy = res.clone(); caches.open(CACHE).then(function (c) { c.put(url.pathname, copy); }); }
      return res;
    }).catch(function () { return caches.match(url.pathname); }));
  }
});

function tell(result) {
  return self.clients.matchAll({ type: "window" }).then(function (clients) {
    clients.forEach(function (c) { c.postMessage({ type: "pantau-queue", result: result }); });
  });
}

self.addEventListener("sync", function (event) {
  if (event.tag === "pantau-report-queue") {
    event.waitUntil(self.PantauQueue.flush("").then(function (result) {
      return tell(result).then(function () { if (result.waiting) { throw new Error("still waiting"); } });
    }));
  }
});
