"""Saving a camera's current snapshot to a report as evidence: the bytes are copied into the report's evidence
store (``MEDIA_ROOT/evidence/incidents/<id>/<sha256>.jpg``, written to a temporary name then renamed), with their
SHA-256, size and the time the worker wrote the snapshot; an EVIDENCE event and an audit entry go with it."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
from pathlib import Path

from portal.incidents.events import EVIDENCE, record_event
from portal.incidents.lifecycle import LifecycleError
from portal.models import Camera, db
from portal.models.audit import record
from portal.models.evidence import IncidentEvidence
from portal.models.incident import Incident

MAX_SNAPSHOT_BYTES = 20 * 1024 * 1024
JPEG_MAGIC = b"\xff\xd8\xff"


def snapshot_path(media_root: Path, camera: Camera) -> Path:
    return media_root / "snapshots" / f"{camera.media_key}.jpg"


def evidence_dir(media_root: Path, incident_id: int) -> Path:
    return media_root / "evidence" / "incidents" / str(int(incident_id))


def evidence_file(media_root: Path, item: IncidentEvidence) -> Path:
    return media_root / item.path


def _read_snapshot(path: Path) -> tuple[bytes, dt.datetime]:
    try:
        with path.open("rb") as handle:
            stat = os.fstat(handle.fileno())
            if stat.st_size > MAX_SNAPSHOT_BYTES:
                raise LifecycleError("snapshot_too_large", "the snapshot is too large")
            data = handle.read(MAX_SNAPSHOT_BYTES + 1)
    except FileNotFoundError:
        raise LifecycleError("no_snapshot", "the camera has no snapshot yet") from None
    if not data.startswith(JPEG_MAGIC) or len(data) > MAX_SNAPSHOT_BYTES:
        raise LifecycleError("no_snapshot", "the camera has no usable snapshot")
    return data, dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC)


def _store(target_dir: Path, sha256: str, data: bytes) -> Path:
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{sha256}.jpg"
    if target.exists() and target.stat().st_size == len(data):
        return target  # the same picture saved twice: one file
    fd, temp = tempfile.mkstemp(dir=target_dir, prefix=".snap-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target


def save_snapshot(incident: Incident, camera: Camera, *, media_root: Path,
                  actor_user_id: int | None = None) -> IncidentEvidence:
    """Copy ``camera``'s current snapshot into ``incident``'s evidence (the caller has checked the user may view
    the camera, and commits)."""
    data, captured_at = _read_snapshot(snapshot_path(media_root, camera))
    sha256 = hashlib.sha256(data).hexdigest()
    target = _store(evidence_dir(media_root, incident.id), sha256, data)
    item = IncidentEvidence(incident_id=incident.id, kind="snapshot", camera_id=camera.id,
                            camera_name=camera.name[:200], path=str(target.relative_to(media_root)), sha256=sha256,
                            bytes=len(data), content_type="image/jpeg", captured_at=captured_at,
                            saved_by_id=actor_user_id)
    db.session.add(item)
    db.session.flush()
    record_event(incident, EVIDENCE, actor_user_id=actor_user_id, evidence_id=item.id, camera_id=camera.id,
                 sha256=sha256, bytes=len(data))
    record("incident.evidence", actor_user_id=actor_user_id, target_type="incident", target_id=incident.id,
           evidence_id=item.id, camera_id=camera.id, sha256=sha256, bytes=len(data))
    return item


def verify_file(media_root: Path, item: IncidentEvidence) -> bool:
    """Do the stored bytes still hash to what was recorded?"""
    try:
        return hashlib.sha256(evidence_file(media_root, item).read_bytes()).hexdigest() == item.sha256
    except OSError:
        return False
