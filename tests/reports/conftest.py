"""Helpers for the reports tests: photos with EXIF and GPS inside, a valid form post."""

from __future__ import annotations

import io
from typing import Any

from flask.testing import FlaskClient
from PIL import Image

from tests.conftest import csrf_token

INSIDE = {"latitude": "-3.9850", "longitude": "122.5150"}  # Kendari, inside the city's area


def photo_with_gps(fmt: str = "JPEG", size: tuple[int, int] = (640, 480)) -> bytes:
    """A photo carrying EXIF (camera make, a GPS position, orientation) as phones write them."""
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = 6  # Orientation: rotated 90°
    gps = {1: "S", 2: (3.0, 59.0, 6.0), 3: "E", 4: (122.0, 30.0, 54.0)}
    exif[0x8825] = gps  # GPSInfo
    out = io.BytesIO()
    image.save(out, format=fmt, exif=exif.tobytes(), **({"quality": 90} if fmt == "JPEG" else {}))
    return out.getvalue()


def form(client: FlaskClient, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"csrf_token": csrf_token(client), "category": "fire",
                              "description": "Asap tebal dari ruko di Jl. Sudirman", **INSIDE, "started": "0"}
    values.update(fields)
    return {k: v for k, v in values.items() if v is not None}
