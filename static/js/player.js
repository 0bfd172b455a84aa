/* Pantau live player: one controller per [data-player] element.
   - Saves data: the snapshot is the poster; nothing is fetched from the HLS URL until the viewer presses play;
     the live view pauses after data-timeout seconds and asks whether to continue.
   - Private stays private: polls data-status-url (every 2.5 s while playing) and stops, drops the poster and
     says so when it answers 404; an HLS 403 stops it too.
   - hls.js where Media Source Extensions exist, native HLS otherwise (Safari on iOS).
   window.PantauPlayer is the hls.js instance last started; window.PantauPlayers the controllers; each player's
   element says its state in data-state (idle, loading, playing, held, paused, offline, gone, error);
   window.PantauPlayerConfig, if set before play, is merged into the hls.js configuration.
   - Follows the camera: the status feed carries the playlist and snapshot where the camera runs now (its media
     node); when they change, an open player loads the new source without a page reload.
   - Rides through outages: when the live playlist stops advancing (no new media sequence for a deadline of three
     segments, 4 to 10 s) or cannot be loaded, the player says "reconnecting" (data-state="reconnecting") instead
     of showing a frozen picture as live, reloads the source every few seconds, and plays again by itself when
     the camera is back; a camera reported offline that comes back restarts by itself if the viewer was
     watching.
   - Low latency without a special server: hls.js asks for the live playlist once a target duration, so a segment
     that appears just after a poll waited up to a whole segment (about 0.5 s on average with 1 s segments). The
     playlist loader (EdgeLoader) answers hls.js' blocking reloads itself: it tells hls.js the playlist can block
     (a tag added in the browser, never by the server), and when hls.js asks for the next media sequence it
     fetches the playlist (revalidating, past any browser cache) from shortly before the next segment is due
     (the last one's arrival plus its duration) every 100 ms until the segment is there, for at most 1.5 target
     durations; then hls.js falls back to its usual polling. About 2-3 small playlist requests a segment. */
(function () {
  "use strict";
  var POLL_PLAYING_MS = 2500, POLL_IDLE_MS = 20000, RETRY_MS = 3000, MAX_RETRIES = 10;
  var WATCH_MS = 500, MIN_STALL_MS = 4000, MAX_STALL_MS = 10000, GIVE_UP_MS = 120000;
  var ACTIVE = { loading: true, playing: true, reconnecting: true };
  var players = [];
  var scripts = {};

  // A private camera's media pass (/media/p/<expires>/<signature>/) is renewed hourly; a public camera's signed
  // media link (/media/s/<key id>/<expires>/<signature>/) every few tens of seconds (portal/media/links.py).
  var PASS = /\/media\/p\/[0-9]+\/[A-Za-z0-9_-]+\//, LINK = /\/media\/s\/[0-9a-f]+\/[0-9]+\/[A-Za-z0-9_-]+\//;
  function withoutPass(url) {
    return String(url || "").replace(PASS, "/media/").replace(LINK, "/media/");
  }
  function linkOf(url) { var m = LINK.exec(String(url || "")); return m ? m[0] : null; }
  function linkExpires(url) {  // seconds since the epoch, or null
    var link = linkOf(url);
    return link ? Number(link.split("/")[4]) : null;
  }

  function loadScript(url) {  // hls.js (130 kB compressed) is only fetched when someone presses play
    if (!scripts[url]) {
      scripts[url] = new Promise(function (resolve, reject) {
        var tag = document.createElement("script");
        tag.src = url;
        tag.onload = resolve;
        tag.onerror = reject;
        document.head.appendChild(tag);
      });
    }
    return scripts[url];
  }

  // -- EdgeLoader: a playlist loader for hls.js that fetches a live playlist as soon as its next segment is in it --
  var EDGE_LEAD_MS = 150, EDGE_POLL_MS = 100, EDGE_SLOW_POLL_MS = 250, BLOCK_TARGETS = 1.5;
  var SERVER_CONTROL = "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES";
  // playlist URL -> {msn: newest media sequence seen, at: when it was seen appearing (null: already there at the
  // first look, so when it appeared is unknown), ms: its duration, lead: how early to start asking for the next}
  var edges = {};

  function now() { return window.performance.now(); }

  function withoutDirectives(url) {  // hls.js adds _HLS_msn (and friends) for a server that blocks; ours does not
    var u = new URL(url, document.baseURI);
    ["_HLS_msn", "_HLS_part", "_HLS_skip"].forEach(function (name) { u.searchParams.delete(name); });
    return u.href;
  }

  function playlistFacts(text) {
    var count = 0, lastMs = 0, m, extinf = /#EXTINF:([0-9.]+)/g;
    while ((m = extinf.exec(text))) { count++; lastMs = parseFloat(m[1]) * 1000; }
    var seq = /#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text), target = /#EXT-X-TARGETDURATION:(\d+)/.exec(text);
    return {
      live: count > 0 && text.indexOf("#EXT-X-ENDLIST") < 0 && text.indexOf("#EXT-X-STREAM-INF") < 0,
      msn: (seq ? Number(seq[1]) : 0) + count - 1, lastMs: lastMs, targetMs: target ? Number(target[1]) * 1000 : 0
    };
  }

  function loaderStats() {
    return { aborted: false, loaded: 0, retry: 0, total: 0, chunkCount: 0, bwEstimate: 0,
             loading: { start: 0, first: 0, end: 0 }, parsing: { start: 0, end: 0 },
             buffering: { start: 0, first: 0, end: 0 } };
  }

  function EdgeLoader(config) {
    this.config = config;
    this.context = null;
    this.stats = loaderStats();
    this.timer = null;
    this.request = null;
    this.closed = false;
  }

  EdgeLoader.prototype.load = function (context, loadConfig, callbacks) {
    this.context = context;
    this.loadConfig = loadConfig;
    this.callbacks = callbacks;
    this.stats = loaderStats();
    this.stats.loading.start = now();
    this.url = withoutDirectives(context.url);
    var directives = context.deliveryDirectives, edge = edges[this.url];
    this.msn = directives && typeof directives.msn === "number" ? directives.msn : null;
    var wait = 0, targetMs = edge && edge.targetMs ? edge.targetMs : 1000;
    if (this.msn !== null && edge && edge.at !== null && this.msn > edge.msn) {  // due: the last arrival + duration
      wait = Math.max(0, edge.at + edge.ms * (this.msn - edge.msn) - edge.lead - now());
    }
    this.polls = 0;
    this.firstPoll = now() + wait;
    this.deadline = this.firstPoll + BLOCK_TARGETS * targetMs;
    this.schedule(wait);
  };

  EdgeLoader.prototype.schedule = function (ms) {
    var self = this;
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(function () { self.poll(); }, ms);
  };

  EdgeLoader.prototype.poll = function () {
    var self = this, policy = (this.loadConfig && this.loadConfig.loadPolicy) || {};
    var controller = new AbortController(), timedOut = false, first = 0;
    var limit = [policy.maxTimeToFirstByteMs, policy.maxLoadTimeMs, this.loadConfig && this.loadConfig.timeout]
      .filter(function (ms) { return typeof ms === "number" && ms > 0 && isFinite(ms); })[0] || 20000;  // not Infinity:
    limit = Math.min(limit, 600000);  // a browser runs a timer longer than 2^31 ms at once
    var guard = window.setTimeout(function () { timedOut = true; controller.abort(); }, limit);
    this.request = controller;
    // under the newest signed media link when the player renewed it (hls.js keeps the URL it started with)
    var url = typeof this.config.pantauFreshen === "function" ? this.config.pantauFreshen(this.url) : this.url;
    fetch(url, { cache: "no-cache", credentials: "same-origin", signal: controller.signal })
      .then(function (response) {
        first = now();
        return response.text().then(function (text) { return { response: response, text: text }; });
      })
      .then(function (got) {
        window.clearTimeout(guard);
        if (self.closed || self.request !== controller) { return; }
        self.request = null;
        var response = got.response, text = got.text, stats = self.stats;
        if (!response.ok) {
          stats.loading.end = now();
          self.callbacks.onError({ code: response.status, text: response.statusText }, self.context, response, stats);
          return;
        }
        var facts = playlistFacts(text), edge = edges[self.url];
        self.polls++;
        if (facts.live && (!edge || facts.msn !== edge.msn)) {
          // Seen after waiting: it arrived within one poll, the lead is right. Seen at the first look: it came
          // earlier than expected, so start twice as early next time (a new phase is found in a few segments).
          var lead = !edge || self.polls > 1 ? EDGE_LEAD_MS : Math.min(2 * edge.lead, facts.lastMs || 1000);
          edges[self.url] = { msn: facts.msn, at: edge ? now() : null, ms: facts.lastMs || facts.targetMs,
                              targetMs: facts.targetMs, lead: lead };
        }
        if (facts.live && self.msn !== null && facts.msn < self.msn && now() < self.deadline) {
          self.schedule(now() - self.firstPoll < 1000 ? EDGE_POLL_MS : EDGE_SLOW_POLL_MS);  // not there yet
          return;
        }
        if (facts.live && text.indexOf("#EXT-X-SERVER-CONTROL") < 0) {
          text = text.replace(/^#EXTM3U[^\n]*\n/, function (head) { return head + SERVER_CONTROL + "\n"; });
        }
        stats.loading.first = first;
        stats.loading.end = now();
        stats.loaded = stats.total = text.length;
        self.callbacks.onSuccess({ url: response.url || url, data: text, code: response.status }, stats,
                                 self.context, response);
      })
      .catch(function (error) {
        window.clearTimeout(guard);
        if (self.closed || self.request !== controller) { return; }
        self.request = null;
        self.stats.loading.end = now();
        if (timedOut) { self.callbacks.onTimeout(self.stats, self.context, null); return; }
        self.callbacks.onError({ code: 0, text: String(error && error.message || error) }, self.context, null,
                               self.stats);
      });
  };

  EdgeLoader.prototype.abort = function () {
    window.clearTimeout(this.timer);
    var request = this.request;
    this.request = null;
    this.stats.aborted = true;
    if (request) { request.abort(); }
    if (this.callbacks && this.callbacks.onAbort) { this.callbacks.onAbort(this.stats, this.context, null); }
  };

  EdgeLoader.prototype.destroy = function () {
    this.closed = true;
    window.clearTimeout(this.timer);
    if (this.request) { this.request.abort(); this.request = null; }
    this.callbacks = null;
  };

  function Player(root) {
    var self = this;
    this.root = root;
    this.id = root.dataset.cameraId;
    this.video = root.querySelector("video");
    this.playButton = root.querySelector("[data-action=play]");
    this.continueButton = root.querySelector("[data-action=continue]");
    this.notice = root.querySelector(".player-notice");
    this.noticeText = root.querySelector(".player-notice-text");
    this.noticeSeen = root.querySelector(".player-notice-seen");
    this.live = root.querySelector(".player-live");
    this.labels = JSON.parse(root.dataset.labels || "{}");
    this.src = root.dataset.src;
    this.codec = root.dataset.codec || "";
    this.timeoutMs = Number(root.dataset.timeout || 0) * 1000;
    this.snapshotMs = Math.max(5, Number(root.dataset.snapshotEvery || 5)) * 1000;
    this.hls = null;
    this.retries = 0;
    this.timer = null;
    this.pollTimer = null;
    this.polling = false;
    this.ownPause = false;
    this.state = root.dataset.state;
    this.wanted = false;       // the viewer asked for live video (restart it by itself after an outage)
    this.lastSN = null;        // newest media sequence seen in the live playlist
    this.advancedAt = 0;       // when it last changed
    this.stallMs = MAX_STALL_MS;
    this.reconnectSince = 0;
    this.watchTimer = null;

    this.playButton.addEventListener("click", function () { self.wanted = true; self.start(true); });
    this.continueButton.addEventListener("click", function () { self.wanted = true; self.start(true); });
    this.video.addEventListener("playing", function () {
      // while reconnecting, only a playlist that moved again counts (not the stale segments it still lists)
      if (self.state === "reconnecting" && self.advancedAt <= self.reconnectSince) { return; }
      self.retries = 0;
      if (self.state !== "playing") { self.setState("playing"); self.say(self.labels.playing); }
    });
    this.video.addEventListener("pause", function () {
      if (self.ownPause) { self.ownPause = false; return; }  // our own teardown, not the viewer
      if (!ACTIVE[self.state]) { return; }
      self.pausedByViewer = true;               // paused with the video controls: stop downloading too
      self.wanted = false;
      if (self.hls) { self.hls.stopLoad(); }
      clearTimeout(self.timer);
      self.setState("held");
    });
    this.video.addEventListener("play", function () {
      if (self.pausedByViewer) { self.pausedByViewer = false; self.wanted = true; self.start(false); }  // live edge
    });
    this.video.addEventListener("error", function () { if (!self.hls && ACTIVE[self.state]) { self.pollNow(); } });
    this.schedulePoll();
    this.scheduleSnapshot();
    if (root.dataset.autoplay === "1" && this.state === "idle") { this.wanted = true; this.start(false); }
  }

  Player.prototype.say = function (text) {
    this.live.textContent = "";
    var live = this.live;
    window.setTimeout(function () { live.textContent = text || ""; }, 50);  // re-announce the same text
  };

  Player.prototype.setState = function (state, text, seen, button) {
    this.state = state;
    this.root.dataset.state = state;
    this.playButton.hidden = state !== "idle";
    this.notice.hidden = !text;
    this.noticeText.textContent = text || "";
    if (seen !== undefined) { this.noticeSeen.textContent = seen || ""; }
    this.continueButton.hidden = !button;
    if (button) { this.continueButton.textContent = button; }
    this.schedulePoll();
  };

  Player.prototype.start = function (focus) {
    if (this.state === "gone" || this.state === "offline") { return; }
    this.teardown();
    this.video.controls = true;
    this.setState("loading");
    this.say(this.labels.loading);
    var self = this, attempt = this.attempt;
    var script = this.root.dataset.hlsScript;
    if (!window.Hls && script && (window.MediaSource || window.ManagedMediaSource)) {
      loadScript(script).then(
        function () { if (self.attempt === attempt) { self.attach(focus); } },
        function () { if (self.attempt === attempt) { self.attach(focus); } }  // native HLS, if any
      );
      return;
    }
    this.attach(focus);
  };

  // H.265 cameras are copied, never re-encoded: only browsers that decode HEVC can show them.
  Player.prototype.canPlayCodec = function () {
    if (this.codec !== "hevc") { return true; }
    var type = 'video/mp4; codecs="hvc1.1.6.L93.B0"';
    var mse = window.MediaSource && window.MediaSource.isTypeSupported && window.MediaSource.isTypeSupported(type);
    return Boolean(mse || this.video.canPlayType(type));
  };

  Player.prototype.attach = function (focus) {
    var self = this;
    if (!this.canPlayCodec()) {
      this.fail(this.labels.hevc, false);
      return;
    }
    if (!this.load()) { return; }
    this.play();
    if (focus) { this.video.focus(); }
    if (this.timeoutMs > 0) {
      this.timer = window.setTimeout(function () { self.pauseToSaveData(); }, this.timeoutMs);
    }
    this.watch();
  };

  Player.prototype.play = function () {
    var played = this.video.play();
    if (played && played.catch) { played.catch(function () { /* refused: the controls remain */ }); }
  };

  // Start loading this.src into the video (hls.js, else native HLS); false when this browser cannot.
  Player.prototype.load = function () {
    var Hls = window.Hls, self = this;
    this.lastSN = null;
    if (this.state !== "reconnecting") { this.advancedAt = Date.now(); }  // the deadline runs from the start
    if (Hls && Hls.isSupported()) {
      var config = {
        // one segment behind the newest, which EdgeLoader fetches as it appears (camera to screen: bench/latency)
        liveSyncDurationCount: 1, liveMaxLatencyDurationCount: 4, maxLiveSyncPlaybackRate: 1.2,
        // a stall (the first one happens while starting) costs a quarter second, not a whole segment for good
        liveSyncOnStallIncrease: 0.25,
        maxBufferLength: 10, backBufferLength: 10, manifestLoadingMaxRetry: 0,
        pLoader: EdgeLoader  // the live playlist as soon as its next segment is there (see the top of this file)
      };
      var extra = window.PantauPlayerConfig || {};  // a page or a benchmark may tune hls.js
      for (var key in extra) { if (Object.prototype.hasOwnProperty.call(extra, key)) { config[key] = extra[key]; } }
      // Signed media links are renewed from the status feed: every request hls.js makes (the playlist, and the
      // segments it resolved against an older link) goes out under the newest link, with no reload.
      config.pantauFreshen = function (url) { return self.freshen(url); };  // EdgeLoader's fetches too
      var ownSetup = config.xhrSetup;
      config.xhrSetup = function (xhr, url) {
        var fresh = self.freshen(url);
        if (fresh !== url) { xhr.open("GET", fresh, true); }
        if (ownSetup) { return ownSetup(xhr, fresh); }
      };
      var hls = new Hls(config);
      hls.on(Hls.Events.ERROR, function (_e, data) { self.onError(hls, data); });
      hls.on(Hls.Events.LEVEL_LOADED, function (_e, data) { if (hls === self.hls) { self.onPlaylist(data.details); } });
      hls.loadSource(this.src);
      hls.attachMedia(this.video);
      this.hls = hls;
      window.PantauPlayer = hls;
    } else if (this.video.canPlayType("application/vnd.apple.mpegurl")) {
      this.video.src = this.src;
    } else {
      this.fail(this.labels.unsupported, false);
      return false;
    }
    return true;
  };

  // The URL under the newest signed media link of this player's source (unchanged when it has none).
  Player.prototype.freshen = function (url) {
    var newest = linkOf(this.src), old = linkOf(url);
    return newest && old && old !== newest ? String(url).replace(old, newest) : url;
  };

  // A live playlist arrived: did its newest segment change? The deadline is three segments (4 to 10 s).
  Player.prototype.onPlaylist = function (details) {
    if (!details) { return; }
    var target = Number(details.targetduration) || 1;
    this.stallMs = Math.min(MAX_STALL_MS, Math.max(MIN_STALL_MS, 3000 * target));
    if (details.endSN !== this.lastSN) {
      var first = this.lastSN === null;
      this.lastSN = details.endSN;
      if (!first || this.state !== "reconnecting") { this.advancedAt = Date.now(); }
      if (!first && this.state === "reconnecting" && !this.video.paused && this.video.readyState > 2) {
        this.setState("playing");
        this.say(this.labels.playing);
      }
    }
  };

  // Every half second while live: a playlist that stopped advancing means the camera (or its node) is gone.
  Player.prototype.watch = function () {
    var self = this;
    window.clearTimeout(this.watchTimer);
    if (!ACTIVE[this.state] || !this.hls) { return; }
    var now = Date.now();
    if (this.state !== "reconnecting" && now - this.advancedAt > this.stallMs) {
      this.reconnecting();
    } else if (this.state === "reconnecting" && this.advancedAt <= this.reconnectAttempt &&
               now - this.reconnectAttempt > Math.max(RETRY_MS, this.stallMs)) {
      this.reload();  // nothing new since the last attempt: a fresh start (a restarted camera, a moved one)
    }
    this.watchTimer = window.setTimeout(function () { self.watch(); }, WATCH_MS);
  };

  Player.prototype.reconnecting = function () {
    if (this.state === "reconnecting") { return; }
    this.reconnectSince = Date.now();
    this.reconnectAttempt = Date.now();
    this.setState("reconnecting", this.labels.reconnecting, "");
    this.say(this.labels.reconnecting);
    this.pollNow();  // perhaps the camera moved or went offline: the status feed knows
  };

  // A fresh hls.js on this.src, keeping the state (reconnecting) and the data-saving timer.
  Player.prototype.reload = function () {
    this.reconnectAttempt = Date.now();
    if (!this.video.paused) { this.ownPause = true; this.video.pause(); }
    if (this.hls) {
      if (window.PantauPlayer === this.hls) { window.PantauPlayer = null; }
      this.hls.destroy();
      this.hls = null;
    }
    if (this.load()) { this.play(); this.watch(); }
  };

  Player.prototype.teardown = function () {
    this.attempt = (this.attempt || 0) + 1;  // a pending start() is cancelled
    window.clearTimeout(this.timer);
    window.clearTimeout(this.watchTimer);
    if (!this.video.paused) { this.ownPause = true; this.video.pause(); }  // first: detaching fires no 2nd pause
    if (this.hls) {
      if (window.PantauPlayer === this.hls) { window.PantauPlayer = null; }
      this.hls.destroy();
      this.hls = null;
    }
    if (this.video.hasAttribute("src")) { this.video.removeAttribute("src"); this.video.load(); }
    this.video.controls = false;
    this.pausedByViewer = false;
  };

  Player.prototype.pauseToSaveData = function () {
    this.wanted = false;
    this.teardown();
    this.setState("paused", this.labels.paused, "", this.labels["continue"]);
    this.say(this.labels.paused);
    this.continueButton.focus();
  };

  Player.prototype.fail = function (text, retry) {
    this.teardown();
    this.setState("error", text, "", retry ? this.labels.retry : null);
    this.say(text);
  };

  Player.prototype.gone = function () {
    this.wanted = false;
    this.teardown();
    this.video.removeAttribute("poster");
    this.root.classList.add("player-gone");
    window.clearTimeout(this.pollTimer);
    this.setState("gone", this.labels.gone, "");
    this.say(this.labels.gone);
    var badges = document.querySelectorAll('[data-status-for="' + this.id + '"]');
    for (var i = 0; i < badges.length; i++) { badges[i].hidden = true; }
  };

  Player.prototype.onError = function (hls, data) {
    var code = data.response && data.response.code;
    if (code === 410) { this.pollNow(); }  // a signed media link expired (a sleeping tab): renew it, retry
    if (code === 401 || code === 403) { this.gone(); return; }  // the server refuses: no longer public
    if (!data.fatal || hls !== this.hls) { return; }
    var Hls = window.Hls;
    this.pollNow();
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
      if (this.retries++ >= MAX_RETRIES) { this.fail(this.labels.error, true); return; }
      hls.recoverMediaError();
      return;
    }
    // the playlist or a segment cannot be loaded (the node is down, the camera moved or is restarting): keep
    // trying while the status feed says the camera is up (it stops us when it is not)
    this.reconnecting();
  };

  Player.prototype.applyStatus = function (data) {
    if (data.codec) { this.codec = data.codec; }
    if (data.snapshot_url && data.snapshot_url !== this.root.dataset.snapshot) {
      this.root.dataset.snapshot = data.snapshot_url;
    }
    if (data.hls_url && data.hls_url !== this.src) {  // the camera runs on another media node now
      var renewed = withoutPass(data.hls_url) === withoutPass(this.src);  // same place, next hour's media pass
      var expires = linkExpires(this.hls ? this.src : (this.video.currentSrc || this.video.src || this.src));
      this.src = data.hls_url;
      this.root.dataset.src = data.hls_url;
      if (renewed && linkOf(data.hls_url) && this.hls) {
        // a renewed signed link: hls.js's requests are rewritten to it (xhrSetup), nothing to reload
      } else if (renewed && linkOf(data.hls_url) && expires && expires - Date.now() / 1000 > 15) {
        // native HLS cannot be rewritten: it keeps its link until that is about to expire
      } else if (ACTIVE[this.state] && data.playable) {
        if (this.state !== "reconnecting" && !renewed) { this.reconnecting(); }
        this.reload();
      }
    }
    var badges = document.querySelectorAll('[data-status-for="' + this.id + '"]');
    for (var i = 0; i < badges.length; i++) {
      badges[i].textContent = data.status_label;
      badges[i].className = "status status-" + data.status;
    }
    var text = this.labels.offline[data.status] || this.labels.offline.offline;
    if (!data.playable && this.wanted && ACTIVE[this.state] &&
        (this.state !== "reconnecting" || Date.now() - this.reconnectSince < GIVE_UP_MS)) {
      // the viewer was watching: a camera that just dropped is being reconnected (no downloads meanwhile)
      this.reconnecting();
      this.teardown();
      this.setState("reconnecting", this.labels.reconnecting, text + " " + (data.last_seen || ""));
    } else if (!data.playable && this.state !== "offline") {
      this.teardown();
      this.setState("offline", text, data.last_seen);
      this.say(text + " " + data.last_seen);
    } else if (data.playable && this.state === "reconnecting" && !this.hls) {
      this.start(false);  // back: play again by itself
    } else if (data.playable && this.state === "offline") {
      this.setState("idle", null, "");
      this.say(this.labels.back);
      if (this.wanted) { this.start(false); }  // the viewer was watching: carry on by itself
    }
  };

  Player.prototype.pollNow = function () {
    var self = this;
    if (this.polling || this.state === "gone") { return; }
    this.polling = true;
    window.clearTimeout(this.pollTimer);
    fetch(this.root.dataset.statusUrl, { cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 404) { self.gone(); return null; }
        return r.ok ? r.json() : null;
      })
      .then(function (data) { if (data && self.state !== "gone") { self.applyStatus(data); } })
      .catch(function () { /* offline phone: try again later */ })
      .then(function () { self.polling = false; self.schedulePoll(); });
  };

  Player.prototype.schedulePoll = function () {
    var self = this;
    window.clearTimeout(this.pollTimer);
    if (this.state === "gone" || this.polling) { return; }
    var wait = ACTIVE[this.state] ? POLL_PLAYING_MS : POLL_IDLE_MS;
    this.pollTimer = window.setTimeout(function () {
      if (document.hidden && !ACTIVE[self.state]) { self.schedulePoll(); return; }
      self.pollNow();
    }, wait);
  };

  Player.prototype.scheduleSnapshot = function () {
    var self = this;
    window.setTimeout(function () {
      if (self.state === "gone") { return; }
      if (self.state === "idle" && !document.hidden && self.root.dataset.snapshot) {
        var slot = Math.floor(Date.now() / self.snapshotMs);
        var url = self.root.dataset.snapshot + "?t=" + slot, img = new Image();
        img.onload = function () { if (self.state === "idle") { self.video.poster = url; } };
        img.src = url;
      }
      self.scheduleSnapshot();
    }, this.snapshotMs);
  };

  function init() {
    var roots = document.querySelectorAll("[data-player]");
    for (var i = 0; i < roots.length; i++) {
      if (!roots[i].pantauPlayer) { roots[i].pantauPlayer = new Player(roots[i]); players.push(roots[i].pantauPlayer); }
    }
    var all = document.querySelector("[data-action=play-all]");
    if (all) {
      all.addEventListener("click", function () {
        players.forEach(function (p) { if (p.state === "idle" || p.state === "paused") { p.start(false); } });
      });
    }
  }

  window.PantauPlayers = players;
  window.PantauPlayer = null;
  init();
})();
