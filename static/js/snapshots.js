/* Snapshots: refresh the visible snapshots of live cameras every few seconds (img[data-snapshot]), only while
   the page is visible; a missing snapshot shows a placeholder instead of a broken image. A snapshot that fails
   to load may belong to a camera that moved to another media node: the camera's status (data-status-url) says
   where it is now, and the next refresh asks there (no reload needed). */
(function () {
  "use strict";
  var visible = new Set();
  var observer = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (e) { if (e.isIntersecting) { visible.add(e.target); } else { visible["delete"](e.target); } });
  }) : null;

  function watch(root) {
    var imgs = (root || document).querySelectorAll("img[data-snapshot]");
    for (var i = 0; i < imgs.length; i++) {
      if (imgs[i].dataset.watched) { continue; }
      imgs[i].dataset.watched = "1";
      if (observer) { observer.observe(imgs[i]); } else { visible.add(imgs[i]); }
    }
  }

  function interval() {
    var holder = document.querySelector("[data-snapshot-every]");
    return Math.max(5, Number(holder ? holder.dataset.snapshotEvery : 5)) * 1000;
  }

  function follow(img) {
    if (!img.dataset.statusUrl || img.dataset.following) { return; }
    img.dataset.following = "1";
    fetch(img.dataset.statusUrl, { cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data && data.snapshot_url && data.snapshot_url !== img.dataset.snapshot) {
          img.dataset.snapshot = data.snapshot_url;  // the node that runs the camera now
        }
      })
      .catch(function () { /* offline: try again at the next failure */ })
      .then(function () { delete img.dataset.following; });
  }

  function refresh() {
    var every = interval();
    if (!document.hidden) {
      var slot = Math.floor(Date.now() / every);   // the same URL for everyone in this slot: caches can help
      visible.forEach(function (img) {
        if (!img.isConnected) { visible["delete"](img); return; }
        var url = img.dataset.snapshot + "?t=" + slot, next = new Image();
        next.onload = function () { img.src = url; img.classList.remove("snap-missing"); };
        next.onerror = function () { follow(img); };
        next.src = url;
      });
    }
    window.setTimeout(refresh, every);
  }

  document.addEventListener("error", function (e) {
    var t = e.target;
    if (t && t.tagName === "IMG" && t.closest(".card-snap")) { t.classList.add("snap-missing"); }
  }, true);
  document.addEventListener("htmx:afterSwap", function (e) { watch(e.target); });
  watch(document);
  window.setTimeout(refresh, interval());
})();
