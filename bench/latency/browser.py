"""The viewer: headless Debian Chromium on the real camera page, sampling hls.js ``playingDate`` once a second.

``player.js`` exposes the hls.js instance it last started as ``window.PantauPlayer``; ``playingDate`` is the
program date-time of the fragment being played plus the play position inside it, so
``Date.now() - playingDate`` is the live latency against this machine's wall clock (browser, worker and
simulator share one clock). ``window.PantauPlayerConfig``, which player.js merges into its hls.js config, is left
unset unless a variant asks for overrides.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

SAMPLE_JS = """() => {
  const hls = window.PantauPlayer, video = document.getElementById('live-video');
  const root = document.querySelector('.player');
  if (!hls || !video) { return null; }
  const date = hls.playingDate;
  const b = video.buffered;
  return {
    now: Date.now(), playing: date ? date.getTime() : null, state: root ? root.dataset.state : null,
    hls_latency: hls.latency, target_latency: hls.targetLatency, current_time: video.currentTime,
    buffer_ahead: b.length ? b.end(b.length - 1) - video.currentTime : 0, rate: video.playbackRate,
    paused: video.paused, ready_state: video.readyState,
    target_duration: hls.levels && hls.levels[hls.currentLevel >= 0 ? hls.currentLevel : 0]
      && hls.levels[hls.currentLevel >= 0 ? hls.currentLevel : 0].details
      ? hls.levels[hls.currentLevel >= 0 ? hls.currentLevel : 0].details.targetduration : null,
    config: {liveSyncDurationCount: hls.config.liveSyncDurationCount,
             liveSyncOnStallIncrease: hls.config.liveSyncOnStallIncrease,
             liveMaxLatencyDurationCount: hls.config.liveMaxLatencyDurationCount,
             liveSyncDuration: hls.config.liveSyncDuration, maxLiveSyncPlaybackRate: hls.config.maxLiveSyncPlaybackRate}
  };
}"""


# Every stall, not only those a once-a-second sample happens to see: the video element's own events, recorded from
# the page's start (media events do not bubble, but a capturing listener on the document sees them).
EVENTS_JS = """(() => {
  const log = window.__pantauMedia = {events: []};
  for (const type of ['waiting', 'playing', 'seeking']) {
    document.addEventListener(type, (e) => {
      if (e.target && e.target.id === 'live-video') {
        log.events.push({type, t: Date.now(), current_time: e.target.currentTime});
      }
    }, true);
  }
})()"""


def stalls(events: list[dict[str, Any]], since_ms: float) -> dict[str, Any]:
    """Stalls after playback began (the first ``playing`` event): each ``waiting`` then the next ``playing``;
    ``seeks`` counts hls.js' jumps (to the live edge, over a gap) after the start."""
    started = next((e["t"] for e in events if e["type"] == "playing"), None)
    count, stalled_ms, seeks, since = 0, 0.0, 0, None
    for event in events:
        if started is None or event["t"] <= started or event["t"] < since_ms:
            continue
        if event["type"] == "waiting" and since is None:
            count, since = count + 1, event["t"]
        elif event["type"] == "playing" and since is not None:
            stalled_ms, since = stalled_ms + event["t"] - since, None
        elif event["type"] == "seeking":
            seeks += 1
    return {"stalls": count, "stalled_s": round(stalled_ms / 1000, 3), "seeks": seeks,
            "stalled_at_end": since is not None}


@dataclass
class CameraRun:
    camera_id: int
    startup_s: float = 0.0  # click on play -> first playingDate
    samples: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # the video element's waiting/playing/seeking
    playlist_requests: int = 0  # playlist requests made while sampling
    watched_s: float = 0.0

    def stall_figures(self) -> dict[str, Any]:
        return stalls(self.events, self.samples[0]["now"] if self.samples else 0)

    def latencies(self) -> list[float]:
        return [(s["now"] - s["playing"]) / 1000 for s in self.samples if s.get("playing") is not None]


class Viewer:
    """One Chromium for the whole run; each camera is watched in a fresh browser context (cold hls.js)."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self._pw_cm = sync_playwright()
        self._pw = self._pw_cm.__enter__()
        try:
            self.browser = self._pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except BaseException:
            self._pw_cm.__exit__(None, None, None)
            raise
        self.version = self.browser.version

    def watch(self, portal_url: str, camera_id: int, seconds: float, *, interval: float = 1.0,
              hls_config: dict[str, Any] | None = None, init_script: str | None = None) -> CameraRun:
        """Samples about every ``interval`` seconds (jittered by ±25 %, so as not to lock onto the 1 s segment
        cycle) for ``seconds`` from the first ``playingDate``."""
        rng = random.Random(camera_id)
        context = self.browser.new_context()
        try:
            page = context.new_page()
            page.add_init_script(EVENTS_JS)
            counting = {"on": False, "n": 0}

            def count(request: Any) -> None:
                if counting["on"] and ".m3u8" in request.url:
                    counting["n"] += 1

            page.on("request", count)
            if init_script:  # an experiment's own JavaScript, run before the page's
                page.add_init_script(init_script)
            if hls_config:
                page.add_init_script(f"window.PantauPlayerConfig = {json.dumps(hls_config)};")
            page.goto(f"{portal_url}/kamera/{camera_id}")
            page.locator(".player [data-action=play]").first.click()
            clicked = time.monotonic()
            page.wait_for_function("() => window.PantauPlayer && window.PantauPlayer.playingDate", timeout=30_000)
            run = CameraRun(camera_id=camera_id, startup_s=round(time.monotonic() - clicked, 3))
            began = time.monotonic()
            deadline = began + seconds
            tick = began
            counting["on"] = True
            while time.monotonic() < deadline:
                sample = page.evaluate(SAMPLE_JS)
                if sample is not None:
                    run.samples.append(sample)
                tick += interval * rng.uniform(0.75, 1.25)
                page.wait_for_timeout(max(0.0, tick - time.monotonic()) * 1000)
            counting["on"] = False
            run.watched_s = time.monotonic() - began
            run.playlist_requests = counting["n"]
            run.events = page.evaluate("() => window.__pantauMedia ? window.__pantauMedia.events : []")
            return run
        finally:
            context.close()

    def close(self) -> None:
        try:
            self.browser.close()
        finally:
            self._pw_cm.__exit__(None, None, None)
