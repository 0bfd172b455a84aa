"""Evidence saved to a 112 report by an operator: a camera's snapshot at the moment it was taken.

The bytes are copied (content-addressed by SHA-256) into the report's evidence store under
``MEDIA_ROOT/evidence/incidents/<incident id>/`` (never served by nginx: ``/media/`` outside HLS and snapshots
answers 404), so the picture stays as it was when the camera's next snapshot replaces the live one.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import db, utcnow

EVIDENCE_KINDS = ("snapshot",)


class IncidentEvidence(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "incident_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="snapshot")
    camera_id: Mapped[int | None] = mapped_column(ForeignKey("cameras.id", ondelete="SET NULL"))
    camera_name: Mapped[str] = mapped_column(String(200), default="")  # as it was called when saved
    path: Mapped[str] = mapped_column(String(300))  # relative to MEDIA_ROOT
    sha256: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    content_type: Mapped[str] = mapped_column(String(40), default="image/jpeg")
    captured_at: Mapped[dt.datetime | None] = mapped_column()  # when the camera's worker wrote the snapshot
    saved_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    saved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
