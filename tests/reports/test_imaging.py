"""Photo cleaning without Flask: every accepted type comes out as a fresh JPEG with no metadata."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from portal.reports.imaging import MAX_SIDE, PhotoError, clean_photo
from tests.reports.conftest import photo_with_gps

LIMIT = 10 * 1024 * 1024


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG" and not image.getexif() and "exif" not in image.info
    assert b"GPS" not in data and b"PhoneMaker" not in data
    return image


def test_a_big_phone_photo_is_upright_smaller_and_bare() -> None:
    clean = clean_photo(photo_with_gps(size=(4000, 3000)), max_bytes=LIMIT)
    image = _open(clean.data)
    assert image.height > image.width and MAX_SIDE // 2 <= max(image.size) <= MAX_SIDE  # rotated by its tag


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "GIF"])
def test_other_types_become_jpeg(fmt: str) -> None:
    out = io.BytesIO()
    image = Image.new("RGBA", (120, 80), (0, 0, 0, 0))
    image.info["comment"] = b"secret comment"
    extra = {"exif": Image.Exif().tobytes()} if fmt != "GIF" else {}
    (image if fmt != "GIF" else image.convert("P")).save(out, format=fmt, **extra)
    clean = clean_photo(out.getvalue(), max_bytes=LIMIT)
    result = _open(clean.data)
    assert result.size == (120, 80) and b"secret comment" not in clean.data
    if fmt == "PNG":  # transparency turns white, not black
        assert result.convert("RGB").getpixel((5, 5)) == pytest.approx((255, 255, 255), abs=3)


def test_refusals_name_their_reason() -> None:
    for data, reason in ((b"", "empty"), (b"GIF89a" + b"\0" * 10, "unreadable"), (b"BM" + b"\0" * 100, "type"),
                         (photo_with_gps(), "too_large")):
        with pytest.raises(PhotoError) as refused:
            clean_photo(data, max_bytes=LIMIT if reason != "too_large" else 1000)
        assert refused.value.reason == reason
