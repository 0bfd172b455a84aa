/* The camera page: copy and share links, and a small location map drawn only when it scrolls into view. */
(function () {
  "use strict";
  var status = document.querySelector(".copy-status");

  function copied(button) {
    var label = button.dataset.copied || "";
    if (status) { status.textContent = label; }
    var before = button.textContent;
    button.textContent = label;
    window.setTimeout(function () { button.textContent = before; }, 2000);
  }

  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-copy]");
    if (button) {
      var field = document.querySelector(button.dataset.copy);
      field.select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(function () { copied(button); }, function () {
          document.execCommand("copy"); copied(button);
        });
      } else {
        document.execCommand("copy");
        copied(button);
      }
      return;
    }
    var share = e.target.closest && e.target.closest("[data-share]");
    if (share && navigator.share) {
      navigator.share({ title: share.dataset.shareTitle, url: share.dataset.share })["catch"](function () {});
    }
  });
  if (navigator.share) {
    var shares = document.querySelectorAll("[data-share]");
    for (var i = 0; i < shares.length; i++) { shares[i].hidden = false; }
  }

  function loadScript(url, done) {
    if (window.L) { done(); return; }
    var tag = document.createElement("script");
    tag.src = url;
    tag.onload = done;
    document.head.appendChild(tag);
  }

  function drawMap(el) {
    var d = el.dataset, at = [Number(d.lat), Number(d.lon)];
    loadScript(d.leaflet, function () {
      var map = L.map(el, { scrollWheelZoom: false, dragging: !L.Browser.mobile, tap: false }).setView(at, Number(d.zoom));
      L.tileLayer(d.tiles, { maxZoom: 19, attribution: d.attribution }).addTo(map);
      L.circleMarker(at, { radius: 9, weight: 2, color: "#fff", fillColor: "#0b5cad", fillOpacity: 1 }).addTo(map);
      el.dataset.ready = "1";
    });
  }

  var mini = document.getElementById("minimap");
  if (mini) {
    if ("IntersectionObserver" in window) {
      var seen = new IntersectionObserver(function (entries) {
        if (entries[0].isIntersecting) { seen.disconnect(); drawMap(mini); }
      }, { rootMargin: "200px" });
      seen.observe(mini);
    } else {
      drawMap(mini);
    }
  }
})();
