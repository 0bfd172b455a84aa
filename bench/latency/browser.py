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


@dataclass
class CameraRun:
    camera_id: int
    startup_s: float = 0.0  # click on play -> first playingDate
    samples: list[dict[str, Any]] = field(default_factory=list)

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
              hls_config: dict[str, Any] | None = None) -> CameraRun:
        """Samples about every ``interval`` seconds (jittered by ±25 %, so as not to lock onto the 1 s segment
        cycle) for ``seconds`` from the first ``playingDate``."""
        rng = random.Random(camera_id)
        context = self.browser.new_context()
        try:
            page = context.new_page()
            if hls_config:
                page.add_init_script(f"window.PantauPlayerConfig = {json.dumps(hls_config)};")
            page.goto(f"{portal_url}/kamera/{camera_id}")
            page.locator(".player [data-action=play]").first.click()
            clicked = time.monotonic()
            page.wait_for_function("() => window.PantauPlayer && window.PantauPlayer.playingDate", timeout=30_000)
            run = CameraRun(camera_id=camera_id, startup_s=round(time.monotonic() - clicked, 3))
            deadline = time.monotonic() + seconds
            tick = time.monotonic()
            while time.monotonic() < deadline:
                sample = page.evaluate(SAMPLE_JS)
                if sample is not None:
                    run.samples.append(sample)
                tick += interval * rng.uniform(0.75, 1.25)
                page.wait_for_timeout(max(0.0, tick - time.monotonic()) * 1000)
            return run
        finally:
            context.close()

    def close(self) -> None:
        try:
            self.browser.close()
        finally:
            self._pw_cm.__exit__(None, None, None)
