"""The console's blueprint and who may do what in it (one place, so the role matrix test reads like policy)."""

from __future__ import annotations

from flask import Blueprint, Response, request

bp = Blueprint("admin", __name__, url_prefix="/admin")

ADMIN = ("admin",)
HEALTH_ROLES = ("admin", "operator")
# who may see cameras in the console (agency staff and police: their own agency's only)
CAMERA_READERS = ("admin", "operator", "leadership", "agency", "police")
WALL_ROLES = CAMERA_READERS


def is_fragment() -> bool:
    """An htmx request for a piece of the page (a history restore wants the whole page)."""
    return request.headers.get("HX-Request") == "true" and not request.headers.get("HX-History-Restore-Request")


def vary(response: Response) -> Response:
    response.vary.add("HX-Request")
    response.headers.setdefault("Cache-Control", "private, no-store")
    return response
