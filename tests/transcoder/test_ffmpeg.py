"""The ffmpeg command line: one input read once, copy not re-encode, safe protocols, live HLS (fMP4 when the worker
records from it), a second (recording) output only with a substream."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.media import SEGMENT_SECONDS
from transcoder.ffmpeg import (
    DELETE_THRESHOLD_RECORDING,
    CameraSpec,
    OutputSettings,
    SourceRefused,
    build_argv,
    find_ffmpeg,
    records_from_live,
    source_kind,
)

ROOT = Path("/srv/media")
OUT = OutputSettings(segment_seconds=2, hls_list_size=6, record_segment_seconds=60, snapshot_interval_s=5)


def spec(**kw: object) -> CameraSpec:
    base: dict[str, object] = {"id": 3, "key": "00000ab3", "source_url": "rtsp://u:p@127.0.0.1:9/s1"}
    base.update(kw)
    return CameraSpec.from_api(base)


def option(argv: list[str], name: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == name]


def test_reads_the_camera_once_and_copies_video() -> None:
    argv = build_argv("ffmpeg", spec(), OUT, ROOT)
    assert option(argv, "-i") == ["rtsp://u:p@127.0.0.1:9/s1"]
    assert option(argv, "-c:v") == ["copy"], "live HLS copies the video (the recording is cut from it)"
    assert option(argv, "-f") == ["hls"], "one muxer: no second output for the recording"
    assert "libx264" not in argv
    for flag, value in [("-rtsp_transport", "tcp"), ("-timeout", "10000000"), ("-fflags", "+genpts+discardcorrupt"),
                        ("-avoid_negative_ts", "make_zero"), ("-protocol_whitelist", "rtsp,rtp,udp,tcp"),
                        ("-probesize", "32768")]:
        assert option(argv, flag) == [value]
        assert argv.index(flag) < argv.index("-i"), f"{flag} is an input option"
    assert "-use_wallclock_as_timestamps" not in argv, "the camera's own timestamps: B-frames survive"
    assert "-skip_frame:v" not in argv and "-filter_complex" not in argv, "nothing is decoded"


def test_full_probe_hint_drops_the_brief_probe() -> None:
    argv = build_argv("ffmpeg", spec(), OUT, ROOT, frozenset({"full_probe"}))
    assert "-probesize" not in argv and "-analyzeduration" not in argv


def test_outputs_live_hls_in_fmp4_that_the_worker_records_from() -> None:
    argv = build_argv("ffmpeg", spec(), OUT, ROOT)
    assert records_from_live(spec()) and not records_from_live(spec(recording=False))
    assert "/srv/media/hls/00000ab3/index.m3u8" in argv
    assert option(argv, "-hls_segment_type") == ["fmp4"], "the recording is built from the live fMP4 fragments"
    assert option(argv, "-hls_segment_filename") == ["/srv/media/hls/00000ab3/%d.m4s"]
    assert option(argv, "-hls_fmp4_init_filename") == ["init.mp4"] and "-tag:v" not in argv
    flags = option(argv, "-hls_flags")[0].split("+")
    assert {"delete_segments", "program_date_time", "independent_segments", "temp_file", "omit_endlist"} <= set(flags)
    assert option(argv, "-hls_time") == ["1.8"] and option(argv, "-hls_list_size") == ["6"], "90 %: jitter-proof"
    assert option(argv, "-hls_init_time") == ["1.8"]
    assert option(argv, "-hls_start_number_source") == ["epoch"], "segment names never repeat after a restart"
    assert option(argv, "-hls_delete_threshold") == [str(DELETE_THRESHOLD_RECORDING)], "slack for the copy"
    assert "-segment_list" not in argv and "segment" not in option(argv, "-f")
    assert argv[-1] == "/srv/media/hls/00000ab3/index.m3u8"


def test_live_hls_without_recording_is_mpegts_unless_b_frames_need_fmp4() -> None:
    argv = build_argv("ffmpeg", spec(recording=False), OUT, ROOT)
    assert option(argv, "-hls_segment_filename") == ["/srv/media/hls/00000ab3/%d.ts"]
    assert option(argv, "-hls_segment_type") == ["mpegts"], "MPEG-TS: the cheapest to write"
    assert option(argv, "-hls_delete_threshold") == ["2"]
    b_frames = build_argv("ffmpeg", spec(recording=False), OUT, ROOT, frozenset({"fmp4"}))
    assert option(b_frames, "-hls_segment_type") == ["fmp4"], "fMP4 carries B-frame streams; MPEG-TS refuses them"
    assert option(b_frames, "-hls_segment_filename") == ["/srv/media/hls/00000ab3/%d.m4s"]


def test_with_a_substream_ffmpeg_records_the_main_stream_itself() -> None:
    argv = build_argv("ffmpeg", spec(substream_url="rtsp://u:p@127.0.0.1:9/s2"), OUT, ROOT)
    assert not records_from_live(spec(substream_url="rtsp://u:p@127.0.0.1:9/s2"))
    assert option(argv, "-segment_time") == ["60"] and option(argv, "-reset_timestamps") == ["1"]
    assert argv[argv.index("-segment_list") + 1] == "/srv/media/recordings/3/incoming/segments.csv"
    assert "/srv/media/recordings/3/incoming/%Y%m%dT%H%M%SZ.mp4" in argv
    assert "empty_moov" in option(argv, "-segment_format_options")[0], "a killed ffmpeg leaves playable files"
    assert option(argv, "-hls_segment_type") == ["mpegts"]


def test_audio_dropped_or_aac() -> None:
    dropped = build_argv("ffmpeg", spec(audio="drop"), OUT, ROOT)
    assert "aac" not in dropped and dropped.count("-an") == 1
    aac = build_argv("ffmpeg", spec(audio="aac"), OUT, ROOT)
    assert option(aac, "-c:a") == ["aac"] and "0:a:0?" in aac, "live (and so the recording) carries the audio"
    sub = build_argv("ffmpeg", spec(audio="aac", substream_url="rtsp://u:p@127.0.0.1:9/s2"), OUT, ROOT)
    assert option(sub, "-c:a") == ["aac", "aac"]


def test_no_recording_means_no_segment_output() -> None:
    argv = build_argv("ffmpeg", spec(recording=False), OUT, ROOT)
    assert "segment" not in option(argv, "-f")


def test_global_options_come_first_and_each_output_ends_with_its_path() -> None:
    argv = build_argv("ffmpeg", spec(substream_url="rtsp://u:p@127.0.0.1:9/s2"), OUT, ROOT)
    assert argv[:4] == ["ffmpeg", "-hide_banner", "-nostdin", "-nostats"], "global options before any input"
    outputs = [a for a in argv if a.startswith("/srv/media/") and "%" not in a or a.endswith("%Y%m%dT%H%M%SZ.mp4")]
    assert outputs[-2:] == ["/srv/media/recordings/3/incoming/%Y%m%dT%H%M%SZ.mp4", "/srv/media/hls/00000ab3/index.m3u8"]


def test_substream_feeds_live_and_snapshot_main_feeds_recording() -> None:
    argv = build_argv("ffmpeg", spec(substream_url="rtsp://u:p@127.0.0.1:9/s2"), OUT, ROOT)
    assert option(argv, "-i") == ["rtsp://u:p@127.0.0.1:9/s1", "rtsp://u:p@127.0.0.1:9/s2"]
    maps = option(argv, "-map")
    assert maps == ["0:v:0", "1:v:0"]  # recording (main), live (substream: the snapshot is cut from it)


def test_hevc_is_copied_into_fmp4_tagged_hvc1() -> None:
    argv = build_argv("ffmpeg", spec(), OUT, ROOT, frozenset({"hevc"}))
    assert option(argv, "-hls_segment_type") == ["fmp4"] and option(argv, "-tag:v") == ["hvc1"]
    assert option(argv, "-c:v") == ["copy"]


@pytest.mark.parametrize("url", ["gopher://127.0.0.1/", "ftp://127.0.0.1/a", "concat:a|b", "-i", "rtsp://",
                                 "rtsp://127.0.0.1:9/\nfoo",
                                 "/etc/passwd", "file:///etc/passwd", "subfile,,start,0,end,0,,:/etc/passwd"])
def test_refuses_anything_but_camera_protocols(url: str) -> None:
    with pytest.raises(SourceRefused) as err:
        source_kind(url, allow_file_sources=False)
    assert "passwd" not in str(err.value)


def test_file_sources_only_in_demo_mode_and_looped(tmp_path: Path) -> None:
    clip = tmp_path / "demo.mp4"
    clip.write_bytes(b"x")
    with pytest.raises(SourceRefused):
        build_argv("ffmpeg", spec(source_url=str(clip)), OUT, ROOT)
    demo = OutputSettings(allow_file_sources=True)
    argv = build_argv("ffmpeg", spec(source_url=str(clip)), demo, ROOT)
    assert option(argv, "-stream_loop") == ["-1"] and option(argv, "-protocol_whitelist") == ["file"]
    with pytest.raises(SourceRefused):
        source_kind(str(tmp_path / "missing.mp4"), allow_file_sources=True)


def test_spec_validation_and_repr_without_secrets() -> None:
    with pytest.raises(ValueError):
        CameraSpec.from_api({"id": "1", "key": "k", "source_url": "rtsp://127.0.0.1:9/"})
    with pytest.raises(ValueError):
        CameraSpec.from_api({"id": 1, "key": "../etc", "source_url": "rtsp://127.0.0.1:9/"})
    s = spec()
    assert "p@" not in repr(s) and "127.0.0.1:9" not in repr(s)
    assert spec(audio="mp3").audio == "drop"


def test_output_settings_ignore_nonsense() -> None:
    out = OutputSettings.from_api({"segment_seconds": "2", "hls_list_size": 0, "record_segment_seconds": 30,
                                   "allow_file_sources": "yes"})
    assert out.segment_seconds == SEGMENT_SECONDS and out.hls_list_size == 6 and out.record_segment_seconds == 30
    assert out.allow_file_sources is False


def test_find_ffmpeg_falls_back_to_the_wheel(monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name: None)
    found = find_ffmpeg()
    assert "imageio_ffmpeg" in found
