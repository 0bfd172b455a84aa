"""The test clip: encoded once, cached by parameters, cut into access units that start on a keyframe."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.annexb import access_units, split_nal_units
from tests.support.clip import make_test_clip
from tests.support.tools import require_tool


def probe(ffprobe: str, path: Path) -> dict[str, object]:
    done = subprocess.run([ffprobe, "-v", "error", "-count_packets", "-select_streams", "v:0", "-show_entries",
                           "stream=codec_name,width,height,r_frame_rate,has_b_frames,nb_read_packets",
                           "-of", "json", str(path)], capture_output=True, text=True, check=True, timeout=60)
    return json.loads(done.stdout)["streams"][0]  # type: ignore[no-any-return]


def test_clip_is_made_once_and_cached_by_parameters(tmp_path: Path) -> None:
    require_tool("ffmpeg", reason="encodes the test clip")
    ffprobe = require_tool("ffprobe", reason="checks the test clip")
    clip = make_test_clip(tmp_path, width=320, height=240, fps=10, seconds=2, bitrate="300k")
    assert clip.parent == tmp_path and clip.suffix == ".h264"
    info = probe(ffprobe, clip)
    assert (info["codec_name"], info["width"], info["height"]) == ("h264", 320, 240)
    assert info["has_b_frames"] == 0
    assert int(str(info["nb_read_packets"])) == 20
    mtime = clip.stat().st_mtime_ns
    assert make_test_clip(tmp_path, width=320, height=240, fps=10, seconds=2, bitrate="300k") == clip
    assert clip.stat().st_mtime_ns == mtime
    other = make_test_clip(tmp_path, width=320, height=240, fps=10, seconds=2, bitrate="200k")
    assert other != clip


def test_clip_keyframes_every_second_and_loop_on_a_keyframe(tmp_path: Path) -> None:
    require_tool("ffmpeg", reason="encodes the test clip")
    clip = make_test_clip(tmp_path / "c.h264", width=320, height=240, fps=10, seconds=2.5, bitrate="300k")
    units = access_units(clip.read_bytes())
    assert len(units) == 30  # rounded up to whole one-second GOPs
    assert [i for i, (_, key) in enumerate(units) if key] == [0, 10, 20]
    kinds = {nal[0] & 0x1F for data, _ in units for nal in split_nal_units(data)}
    assert 6 not in kinds  # x264's SEI banner is dropped
    assert {7, 8, 5, 1, 9} <= kinds  # SPS, PPS, IDR, slices, access unit delimiters


def test_mp4_clip(tmp_path: Path) -> None:
    require_tool("ffmpeg", reason="encodes the test clip")
    ffprobe = require_tool("ffprobe", reason="checks the test clip")
    clip = make_test_clip(tmp_path / "demo.mp4", width=320, height=240, fps=10, seconds=1, bitrate="300k")
    assert probe(ffprobe, clip)["codec_name"] == "h264"
    assert json.loads(clip.with_name("demo.mp4.json").read_text())["container"] == "mp4"


def test_access_units_need_a_keyframe() -> None:
    with pytest.raises(ValueError, match="keyframe"):
        access_units(b"\x00\x00\x00\x01\x09\xf0\x00\x00\x00\x01\x41\x9a\x00")
