"""Pure functions that turn a camera's assignment into one ffmpeg argv (never a shell string).

One ffmpeg per camera reads the camera once and writes two outputs, both copied (nothing is decoded):

- live HLS under ``hls/<key>/``: MPEG-TS segments (``<n>.ts``: the cheapest to write, H.264 stays Annex B),
  or fragmented MP4 (``init.mp4`` + ``<n>.m4s``, hint ``fmp4``) for the cameras MPEG-TS refuses, those that send
  B-frames ("first pts and dts value must be set": the camera is started again at once with ``fmp4``), and for
  H.265 (hint ``hevc``: fMP4 tagged ``hvc1``, the form Safari plays); segment numbers come from the clock, so
  they never repeat across restarts and a CDN may cache segments forever;
- recordings: for a camera that records (the usual case) the live output is fragmented MP4 and the worker builds
  the recording files from its segments (:mod:`transcoder.recorder`: a second muxer in ffmpeg cost a third of
  a camera's CPU); only with a substream does ffmpeg write a second output, segments of the main stream under
  ``recordings/<id>/incoming/`` (fragmented MP4, so a killed ffmpeg leaves a playable file), listed in
  ``segments.csv`` as each one finishes. Either way the files and the list are the same.

Snapshots are cut from the newest live segment by the worker (:mod:`transcoder.snapshots`), not decoded here.
With a substream, the substream feeds live HLS (and so the snapshot) and the main stream feeds recording.

Timestamps are the camera's own (RTP), never the wall clock: ``-use_wallclock_as_timestamps`` restamps frames
in arrival order, which breaks B-frame streams (decode order is not presentation order) and jitters segment
lengths. The input is probed briefly (``-probesize``, hint ``full_probe`` for the camera whose stream needs the
default), so ffmpeg starts writing at once and its program date-times are not late by the probing time.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import ffmpeg as ffmpeg_graph  # ffmpeg-python: the graph of inputs, filters and outputs, and its argv

from contract import media as contract
from contract.media import AUDIO_MODES, NETWORK_SCHEMES

WHITELISTS = {
    "rtsp": "rtsp,rtp,udp,tcp",
    "rtsps": "rtsps,rtsp,rtp,udp,tcp,tls,srtp",
    "http": "http,tcp",
    "https": "https,http,tcp,tls,crypto",
    "file": "file",
}
RECORDING_LIST = "segments.csv"
INIT_SEGMENT = "init.mp4"


class SourceRefused(ValueError):
    """A source URL the worker will not hand to ffmpeg (its message never contains the URL)."""


@dataclass(frozen=True)
class OutputSettings:
    segment_seconds: int = contract.SEGMENT_SECONDS
    hls_list_size: int = contract.HLS_LIST_SIZE
    record_segment_seconds: int = contract.RECORD_SEGMENT_SECONDS
    snapshot_interval_s: int = contract.SNAPSHOT_INTERVAL_S
    snapshot_idle_interval_s: int = contract.SNAPSHOT_IDLE_INTERVAL_S
    allow_file_sources: bool = False

    @classmethod
    def from_api(cls, data: Mapping[str, Any] | None) -> OutputSettings:
        data = data or {}
        defaults = cls()

        def number(name: str, default: int) -> int:
            value = data.get(name, default)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 1:
                return default
            return int(value)

        return cls(
            segment_seconds=number("segment_seconds", defaults.segment_seconds),
            hls_list_size=number("hls_list_size", defaults.hls_list_size),
            record_segment_seconds=number("record_segment_seconds", defaults.record_segment_seconds),
            snapshot_interval_s=number("snapshot_interval_s", defaults.snapshot_interval_s),
            snapshot_idle_interval_s=number("snapshot_idle_interval_s", defaults.snapshot_idle_interval_s),
            allow_file_sources=data.get("allow_file_sources") is True,
        )


@dataclass(frozen=True)
class CameraSpec:
    id: int
    key: str
    source_url: str
    substream_url: str | None = None
    recording: bool = True
    audio: str = contract.DEFAULT_AUDIO
    retention_days: int = contract.RETENTION_DAYS

    def __repr__(self) -> str:  # the URLs carry credentials: keep them out of reprs and tracebacks
        return f"CameraSpec(id={self.id}, key={self.key!r})"

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> CameraSpec:
        try:
            cam_id, key, source = data["id"], data["key"], data["source_url"]
        except (KeyError, TypeError):
            raise ValueError("camera needs id, key and source_url") from None
        if not isinstance(cam_id, int) or isinstance(cam_id, bool) or cam_id < 1:
            raise ValueError("camera id must be a positive integer")
        if not contract.is_media_key(key):
            raise ValueError(f"camera {cam_id}: key must be 8 to 32 lower-case hex digits")
        if not isinstance(source, str) or not source:
            raise ValueError(f"camera {cam_id}: source_url must be a string")
        sub = data.get("substream_url")
        audio = data.get("audio") or contract.DEFAULT_AUDIO
        retention = data.get("retention_days")
        return cls(
            id=cam_id,
            key=key,
            source_url=source,
            substream_url=sub if isinstance(sub, str) and sub else None,
            recording=data.get("recording") is not False,
            audio=audio if audio in AUDIO_MODES else contract.DEFAULT_AUDIO,
            retention_days=retention if isinstance(retention, int) and retention > 0 else contract.RETENTION_DAYS,
        )


@dataclass(frozen=True)
class MediaPaths:
    root: Path
    key: str
    camera_id: int

    @property
    def hls_dir(self) -> Path:
        return self.root / "hls" / self.key

    @property
    def playlist(self) -> Path:
        return self.hls_dir / "index.m3u8"

    @property
    def snapshot(self) -> Path:
        return self.root / "snapshots" / f"{self.key}.jpg"

    @property
    def recordings_dir(self) -> Path:
        return self.root / "recordings" / str(self.camera_id)

    @property
    def incoming_dir(self) -> Path:
        return self.recordings_dir / "incoming"

    @property
    def recording_list(self) -> Path:
        return self.incoming_dir / RECORDING_LIST

    def make_dirs(self) -> None:
        for path in (self.hls_dir, self.snapshot.parent, self.incoming_dir):
            path.mkdir(parents=True, exist_ok=True)


def find_ffmpeg(explicit: str | None = None) -> str:
    """The system's ffmpeg, else the one in the imageio-ffmpeg wheel."""
    if explicit:
        found = shutil.which(explicit)
        if not found:
            raise FileNotFoundError(f"ffmpeg not found at {explicit}")
        return found
    system = shutil.which("ffmpeg")
    if system:
        return system
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception as exc:  # the wheel raises RuntimeError when it has no binary for this platform
        raise FileNotFoundError("no ffmpeg: install the system's ffmpeg or the imageio-ffmpeg wheel") from exc


def source_kind(url: str, allow_file_sources: bool) -> str:
    """``rtsp``, ``rtsps``, ``http``, ``https`` or ``file``; raises :class:`SourceRefused` otherwise."""
    if "\n" in url or "\r" in url or url.startswith("-"):
        raise SourceRefused("source URL contains forbidden characters")
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    if scheme in NETWORK_SCHEMES:
        if not urlsplit(url).hostname:
            raise SourceRefused(f"{scheme} source has no host")
        return scheme
    if scheme in ("", "file") and allow_file_sources:
        path = urlsplit(url).path if scheme == "file" else url
        if not os.path.isabs(path) or not os.path.isfile(path):
            raise SourceRefused("file source is not an existing absolute path")
        return "file"
    if scheme in ("", "file"):
        raise SourceRefused("file sources are allowed only in demo mode")
    raise SourceRefused(f"protocol {scheme!r} is not allowed (rtsp, rtsps, http, https)")


GLOBAL_ARGS = ("-hide_banner", "-nostdin", "-nostats", "-y", "-loglevel", "level+info")
# Probe a camera's stream briefly: RTSP's SDP already names the codecs (and usually their parameters), and
# each byte read while probing is read before the muxers start, making every program date-time late.
SMALL_PROBE = {"probesize": "32768", "analyzeduration": "500000", "fpsprobesize": "0"}
HINTS = frozenset({"hevc", "fmp4", "full_probe"})
# Live segments ffmpeg keeps on disk after they left the playlist (ffmpeg keeps no more than the playlist's
# length of them): the worker's slack to copy them into the recording when its loop is slow.
DELETE_THRESHOLD_RECORDING = 10


def records_from_live(spec: CameraSpec) -> bool:
    """Is this camera's recording built by the worker from its live fMP4 segments (not by a second muxer)?"""
    return spec.recording and not spec.substream_url


def input_options(kind: str, *, full_probe: bool = False) -> dict[str, Any]:
    """Options placed before one ``-i`` (ffmpeg-python writes them in name order, which ffmpeg doesn't mind)."""
    options: dict[str, Any] = {"protocol_whitelist": WHITELISTS[kind]}
    if kind in ("rtsp", "rtsps"):
        options |= {"rtsp_transport": "tcp", "timeout": "10000000"}
    elif kind in ("http", "https"):
        options |= {"rw_timeout": "10000000"}
    else:
        options |= {"re": None, "stream_loop": "-1"}
    options |= {"fflags": "+genpts+discardcorrupt", "avoid_negative_ts": "make_zero"}
    if kind != "file" and not full_probe:
        options |= SMALL_PROBE
    return options


def open_input(url: str, kind: str, *, full_probe: bool) -> Any:
    path = urlsplit(url).path if kind == "file" and url.startswith("file:") else url
    return ffmpeg_graph.input(path, **input_options(kind, full_probe=full_probe))


def audio_streams(spec: CameraSpec, source: Any) -> tuple[list[Any], dict[str, Any]]:
    """The audio stream to map and the output options: AAC from the camera's first audio track (if it has
    one: the map is optional), or no audio."""
    if spec.audio == "aac":
        return [source["a:0?"]], {"c:a": "aac", "b:a": "64k", "ac": "1"}
    return [], {"an": None}


def build_graph(spec: CameraSpec, out: OutputSettings, media_root: Path, hints: frozenset[str] = frozenset()) -> Any:
    """The ffmpeg-python graph: the camera's input(s) and the outputs (live HLS; recording with a substream).

    ``hints`` (learnt from earlier runs): ``fmp4`` writes live HLS as fragmented MP4 (B-frames), ``hevc`` too,
    tagged ``hvc1`` (the form Safari plays), ``full_probe`` probes the input with ffmpeg's defaults."""
    paths = MediaPaths(media_root, spec.key, spec.id)
    full_probe = "full_probe" in hints
    main_kind = source_kind(spec.source_url, out.allow_file_sources)
    main = open_input(spec.source_url, main_kind, full_probe=full_probe)
    live = main
    if spec.substream_url:
        live = open_input(spec.substream_url, source_kind(spec.substream_url, out.allow_file_sources),
                          full_probe=full_probe)
    video: dict[str, Any] = {"c:v": "copy", **({"tag:v": "hvc1"} if "hevc" in hints else {})}
    outputs = []
    from_live = records_from_live(spec)
    if spec.recording and not from_live:
        audio, audio_options = audio_streams(spec, main)
        outputs.append(ffmpeg_graph.output(
            main["v:0"], *audio, str(paths.incoming_dir / "%Y%m%dT%H%M%SZ.mp4"),
            **video, **audio_options, f="segment", segment_time=str(out.record_segment_seconds),
            segment_atclocktime="1", segment_format="mp4",
            segment_format_options="movflags=+frag_keyframe+empty_moov+default_base_moof",
            reset_timestamps="1", strftime="1", segment_list=str(paths.recording_list), segment_list_type="csv",
        ))
    audio, audio_options = audio_streams(spec, live)
    live_hints = frozenset({"fmp4"}) if from_live else frozenset()  # the recording is cut from fMP4 fragments
    outputs.append(ffmpeg_graph.output(
        live["v:0"], *audio, str(paths.playlist),
        # cut at the first keyframe at least 90 % of a segment after the last cut: a keyframe a hair early (a
        # camera's timestamp jitter) must not make a segment twice as long, and EXT-X-TARGETDURATION with it
        **video, **audio_options, **live_layout(paths, hints | live_hints), f="hls",
        hls_time=f"{out.segment_seconds * 0.9:g}", hls_list_size=str(out.hls_list_size),
        hls_flags="delete_segments+program_date_time+independent_segments+temp_file+omit_endlist+discont_start",
        hls_init_time=f"{out.segment_seconds * 0.9:g}",  # the first segment after a (re)start, the same
        hls_delete_threshold=str(DELETE_THRESHOLD_RECORDING if from_live else 2), hls_start_number_source="epoch",
    ))
    return ffmpeg_graph.merge_outputs(*outputs)


def live_layout(paths: MediaPaths, hints: frozenset[str]) -> dict[str, str]:
    if hints & {"fmp4", "hevc"}:
        return {"hls_segment_type": "fmp4", "hls_fmp4_init_filename": INIT_SEGMENT,
                "hls_segment_filename": str(paths.hls_dir / "%d.m4s")}
    return {"hls_segment_type": "mpegts", "hls_segment_filename": str(paths.hls_dir / "%d.ts")}


def build_argv(ffmpeg: str, spec: CameraSpec, out: OutputSettings, media_root: Path,
               hints: frozenset[str] = frozenset()) -> list[str]:
    """The whole command line for one camera (see :func:`build_graph` for ``hints``)."""
    return [ffmpeg, *GLOBAL_ARGS, *build_graph(spec, out, media_root, hints).get_args()]


def ffmpeg_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """ffmpeg's environment: UTC, so the recording file names (strftime) are UTC times."""
    env = dict(os.environ if base is None else base)
    env["TZ"] = "UTC"
    return env
