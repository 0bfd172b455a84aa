"""A reporter's photo, made safe to keep: type and size checked, decoded by Pillow, turned upright, scaled down
and re-encoded as a new JPEG from the pixels alone, so EXIF, GPS, XMP, ICC and comments never reach the disk.

Pure functions on bytes (no Flask, no database): ``clean_photo(data) -> CleanPhoto`` or ``PhotoError``.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
MAX_PIXELS = 40_000_000  # a 48-megapixel phone photo is refused only above this; bombs far above it
MAX_SIDE = 2048  # stored photos are at most this wide or tall
JPEG_QUALITY = 82
# The first bytes of each accepted type: checked before Pillow sees the file at all.
MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a")


class PhotoError(ValueError):
    """Why a photo was refused: ``reason`` is one of ``empty``, ``too_large``, ``type``, ``unreadable``,
    ``too_many_pixels``."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class CleanPhoto:
    data: bytes
    width: int
    height: int
    sha256: str
    content_type: str = "image/jpeg"


def _looks_like_image(head: bytes) -> bool:
    return head.startswith(MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


def clean_photo(data: bytes, *, max_bytes: int) -> CleanPhoto:
    """Check and re-encode one photo; raises :class:`PhotoError`."""
    if not data:
        raise PhotoError("empty")
    if len(data) > max_bytes:
        raise PhotoError("too_large")
    if not _looks_like_image(data[:16]):
        raise PhotoError("type")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format not in ACCEPTED_FORMATS:
                    raise PhotoError("type")
                if image.width * image.height > MAX_PIXELS:
                    raise PhotoError("too_many_pixels")
                image.seek(0)  # the first frame of an animation
                if image.format == "JPEG":  # decode at 1/2, 1/4 or 1/8 scale when still >= MAX_SIDE / 2: far faster
                    image.draft("RGB", (MAX_SIDE // 2, MAX_SIDE // 2))
                image.load()
                upright = ImageOps.exif_transpose(image) or image
                rgb = _flatten(upright)
    except PhotoError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoError("too_many_pixels") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, MemoryError,
            IndexError, TypeError, KeyError, ZeroDivisionError):  # a damaged or hostile file, whatever Pillow says
        raise PhotoError("unreadable") from None
    rgb.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    # A new image from the pixels alone: nothing of the original's metadata (info, EXIF, ICC) comes along.
    fresh = Image.new("RGB", rgb.size)
    fresh.paste(rgb)
    out = io.BytesIO()
    fresh.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    encoded = out.getvalue()
    return CleanPhoto(data=encoded, width=fresh.width, height=fresh.height,
                      sha256=hashlib.sha256(encoded).hexdigest())


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on white (transparent PNG/GIF/WebP would otherwise turn black)."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")
