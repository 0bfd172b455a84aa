/* Archived footage player: hls.js on the VOD playlist of recorded segments (byte-range fMP4, one discontinuity
   per segment); starts at the chosen moment (data-start) using the playlist's program date-time.
   The element says its state in data-state (loading, ready, playing, empty, error). */
(function () {
  "use strict";
  function init() {
    var root = document.querySelector("[data-archive-player]");
    if (!root) { return; }
    var video = root.querySelector("video");
    var notice = root.querySelector(".player-notice");
    var labels = JSON.parse(root.dataset.labels || "{}");
    var wanted = Date.parse(root.dataset.start);
    function say(state, text) {
      root.dataset.state = state;
      if (text) { notice.textContent = text; notice.hidden = false; } else { notice.hidden = true; }
    }
    function seek(hls) {
      var details = hls.levels && hls.levels[0] && hls.levels[0].details;
      var first = details && details.fragments && details.fragments[0];
      if (!first) { say("empty", labels.empty); return; }
      var offset = first.programDateTime ? (wanted - first.programDateTime) / 1000 : 0;
      if (offset > 0) { video.currentTime = offset; }
    }
    say("loading");
    video.addEventListener("playing", function () { say("playing"); });
    if (window.MediaSource && window.Hls === undefined) {
      var tag = document.createElement("script");
      tag.src = root.dataset.hls;
      tag.onload = start;
      tag.onerror = function () { say("error", labels.error); };
      document.head.appendChild(tag);
    } else {
      start();
    }
    function start() {
      if (window.Hls && window.Hls.isSupported()) {
        var hls = new window.Hls({ enableWorker: true, lowLatencyMode: false });
        window.PantauArchive = hls;
        hls.on(window.Hls.Events.LEVEL_LOADED, function (_e, data) {
          if (!data.details.fragments.length) { say("empty", labels.empty); return; }
          say("ready");
          seek(hls);
          var started = video.play();  // muted: the browser lets it start by itself
          if (started && started.catch) { started.catch(function () { /* the viewer presses play */ }); }
        });
        hls.on(window.Hls.Events.ERROR, function (_e, data) { if (data.fatal) { say("error", labels.error); } });
        hls.loadSource(root.dataset.src);
        hls.attachMedia(video);
      } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
        video.src = root.dataset.src;
        say("ready");
        video.play().catch(function () { /* the viewer presses play */ });
      } else {
        say("error", labels.error);
      }
    }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
