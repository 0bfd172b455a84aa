"""Pure functions that turn a camera's assignment into one ffmpeg argv (never a shell string).

One ffmpeg per camera reads the camera once and writes three outputs:

- live HLS under ``hls/<key>/`` (video copied; segment numbers from the clock, so they never repeat
  across restarts and a CDN may cache segments forever);
- recording segments under ``recordings/<id>/incoming/`` (fragmented MP4, so a killed ffmpeg leaves a
  playable file), listed in ``segments.csv`` as each one finishes;
- a snapshot ``snapshots/<key>.jpg``, decoded from keyframes only and written atomically.

With a substream, the substream feeds live HLS and the snapshot and the main stream feeds recording.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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


class SourceRefused(ValueError):
    """A source URL the worker will not hand to ffmpeg (its message never contains the URL)."""


@dataclass(frozen=True)
class OutputSettings:
    segment_seconds: int = contract.SEGMENT_SECONDS
    hls_list_size: int = contract.HLS_LIST_SIZE
    record_segment_seconds: int = contract.RECORD_SEGMENT_SECONDS
    snapshot_interval_s: int = contract.SNAPSHOT_INTERVAL_S
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


def input_args(url: str, kind: str, *, snapshot_decoder: bool) -> list[str]:
    args = ["-protocol_whitelist", WHITELISTS[kind]]
    if kind in ("rtsp", "rtsps"):
        args += ["-rtsp_transport", "tcp", "-timeout", "10000000"]
    elif kind in ("http", "https"):
        args += ["-rw_timeout", "10000000"]
    else:
        args += ["-re", "-stream_loop", "-1"]
    args += ["-fflags", "+genpts+discardcorrupt", "-avoid_negative_ts", "make_zero"]
    if kind != "file":  # cameras reset their clocks; a looped file has timestamps ffmpeg keeps in order itself
        args += ["-use_wallclock_as_timestamps", "1"]
    if snapshot_decoder:
        # Only keyframes are decoded, and only for the snapshot; one decoder thread is enough for one keyframe
        # a second and saves a fifth of the CPU and a quarter of the memory (bench/transcoder).
        args += ["-skip_frame:v", "nokey", "-threads:v", "1"]
    path = urlsplit(url).path if kind == "file" and url.startswith("file:") else url
    return [*args, "-i", path]


def audio_args(spec: CameraSpec, input_index: int) -> list[str]:
    if spec.audio == "aac":
        return ["-map", f"{input_index}:a:0?", "-c:a", "aac", "-b:a", "64k", "-ac", "1"]
    return ["-an"]


def build_argv(ffmpeg: str, spec: CameraSpec, out: OutputSettings, media_root: Path,
               codec_hint: str | None = None) -> list[str]:
    """The whole command line for one camera. ``codec_hint`` ``hevc`` switches HLS to fMP4 with ``hvc1``."""
    paths = MediaPaths(media_root, spec.key, spec.id)
    main_kind = source_kind(spec.source_url, out.allow_file_sources)
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-y", "-loglevel", "level+info", "-filter_threads", "1"]
    live = 0
    if spec.substream_url:
        sub_kind = source_kind(spec.substream_url, out.allow_file_sources)
        argv += input_args(spec.source_url, main_kind, snapshot_decoder=False)
        argv += input_args(spec.substream_url, sub_kind, snapshot_decoder=True)
        live = 1
    else:
        argv += input_args(spec.source_url, main_kind, snapshot_decoder=True)
    hevc = codec_hint == "hevc"
    tag = ["-tag:v", "hvc1"] if hevc else []
    segment_type = (["-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4"] if hevc
                    else ["-hls_segment_type", "mpegts"])
    extension = "m4s" if hevc else "ts"
    argv += [
        "-map", f"{live}:v:0", "-c:v", "copy", *tag, *audio_args(spec, live),
        "-f", "hls", "-hls_time", str(out.segment_seconds), "-hls_list_size", str(out.hls_list_size),
        "-hls_flags", "delete_segments+program_date_time+independent_segments+temp_file+omit_endlist+discont_start",
        "-hls_init_time", "1",  # the first segment after a (re)start: cut at the first keyframe after 1 s
        "-hls_delete_threshold", "2", "-hls_start_number_source", "epoch", *segment_type,
        "-hls_segment_filename", str(paths.hls_dir / f"%d.{extension}"), str(paths.playlist),
    ]
    if spec.recording:
        argv += [
            "-map", "0:v:0", "-c:v", "copy", *tag, *audio_args(spec, 0),
            "-f", "segment", "-segment_time", str(out.record_segment_seconds), "-segment_atclocktime", "1",
            "-segment_format", "mp4",
            "-segment_format_options", "movflags=+frag_keyframe+empty_moov+default_base_moof",
            "-reset_timestamps", "1", "-strftime", "1",
            "-segment_list", str(paths.recording_list), "-segment_list_type", "csv",
            str(paths.incoming_dir / "%Y%m%dT%H%M%SZ.mp4"),
        ]
    argv += [
        "-map", f"{live}:v:0", "-an", "-vf", f"fps=1/{out.snapshot_interval_s},scale=640:-2",
        "-threads:v", "1", "-q:v", "5", "-f", "image2", "-update", "1", "-atomic_writing", "1", str(paths.snapshot),
    ]
    return argv


def ffmpeg_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """ffmpeg's environment: UTC, so the recording file names (strftime) are UTC times."""
    env = dict(os.environ if base is None else base)
    env["TZ"] = "UTC"
    return env
