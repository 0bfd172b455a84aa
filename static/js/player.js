/* Pantau live player: hls.js where Media Source Extensions exist, native HLS otherwise. */
(function () {
  "use strict";
  var video = document.getElementById("live-video");
  if (!video) { return; }
  var src = video.dataset.src;
  var message = document.querySelector(".player-message");

  function say(text) { if (message) { message.textContent = text || ""; } }

  if (window.Hls && window.Hls.isSupported()) {
    var hls = new window.Hls({ liveSyncDurationCount: 2, lowLatencyMode: false, backBufferLength: 10 });
    hls.on(window.Hls.Events.ERROR, function (_e, data) {
      if (data.fatal) {
        if (data.type === window.Hls.ErrorTypes.NETWORK_ERROR) {
          setTimeout(function () { hls.loadSource(src); hls.startLoad(); }, 3000);
        } else {
          hls.recoverMediaError();
        }
      }
    });
    hls.loadSource(src);
    hls.attachMedia(video);
    window.PantauPlayer = hls;
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = src;
  } else {
    say(video.dataset.unsupported || "");
  }
  video.play().catch(function () { /* autoplay refused: the controls remain */ });
})();
