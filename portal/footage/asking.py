"""Asking for footage: a police request (held at once, before any decision) and a resident's hold request.

Both are checked here, whatever form or API they came from: the cameras exist, the span is in the past, not
longer than ``footage_max_hours``, and names at most ``footage_max_cameras`` cameras.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.footage import holds
from portal.models import Camera, FootageRequest, ResidentHoldRequest, User, db
from portal.models.audit import record
from portal.models.footage import HoldKind
from portal.settings import Settings

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out over the phone
FUTURE_SLACK = dt.timedelta(minutes=5)


class AskError(ValueError):
    """A request the rules refuse; ``field`` names the form field, the message is translated."""

    def __init__(self, field: str, message: Any) -> None:
        super().__init__(str(message))
        self.field, self.message = field, message


def _settings() -> Settings:
    return current_app.config["PANTAU"]  # type: ignore[no-any-return]


def check_span(start: dt.datetime, end: dt.datetime, now: dt.datetime) -> None:
    settings = _settings()
    if end <= start:
        raise AskError("end", _l("The end must be after the start."))
    if end > now + FUTURE_SLACK:
        raise AskError("end", _l("Footage can only be asked for a time that has passed."))
    if end - start > dt.timedelta(hours=settings.footage_max_hours):
        raise AskError("end", _l("At most %(hours)s hours at once.", hours=settings.footage_max_hours))


def check_cameras(camera_ids: Sequence[int], *, public_only: bool = False) -> list[Camera]:
    settings = _settings()
    wanted = list(dict.fromkeys(camera_ids))
    if not wanted:
        raise AskError("cameras", _l("Choose at least one camera."))
    if len(wanted) > settings.footage_max_cameras:
        raise AskError("cameras", _l("At most %(n)s cameras at once.", n=settings.footage_max_cameras))
    query = select(Camera).where(Camera.id.in_(wanted))
    if public_only:
        query = query.where(Camera.public.is_(True), Camera.archived_at.is_(None))
    found = list(db.session.scalars(query.order_by(Camera.id)))
    if len(found) != len(wanted):
        raise AskError("cameras", _l("One of the cameras does not exist."))
    return found


def find_resident_requests(codes: Sequence[str]) -> list[ResidentHoldRequest]:
    found = []
    for code in dict.fromkeys(c.strip().upper() for c in codes if c.strip()):
        row = db.session.scalar(select(ResidentHoldRequest).where(ResidentHoldRequest.code == code))
        if row is None:
            raise AskError("resident_codes", _l("No resident's request has the code %(code)s.", code=code[:20]))
        found.append(row)
    return found


def ask_police(user: User, camera_ids: Sequence[int], start: dt.datetime, end: dt.datetime, *, case_number: str,
               legal_basis: str, reason: str, resident_codes: Sequence[str] = (), now: dt.datetime,
               **audit: Any) -> FootageRequest:
    """A police request: its spans are held at once, and residents' holds it names are taken over."""
    check_span(start, end, now)
    cameras = check_cameras(camera_ids)
    residents = find_resident_requests(resident_codes)
    request = FootageRequest(case_number=case_number.strip(), legal_basis=legal_basis.strip(), reason=reason.strip(),
                             requester_id=user.id, start_at=start, end_at=end, created_at=now, updated_at=now,
                             requester_seen_at=now)
    request.cameras = cameras
    db.session.add(request)
    db.session.flush()
    keep_until = now + dt.timedelta(days=_settings().footage_hold_days)
    for camera in cameras:
        holds.put(camera.id, start, end, kind=HoldKind.POLICE, reason=f"request {request.id}, case {case_number}",
                  request=request, keep_until=keep_until, created_by_id=user.id)
    for resident in residents:
        resident.taken_over_by_id = request.id
        for hold in db.session.scalars(select(holds.LegalHold).where(
                holds.LegalHold.resident_request_id == resident.id, holds.active())):
            hold.request = request  # now governed by the police request, like its own holds
            record("footage.hold_taken_over", target_type="legal_hold", target_id=hold.id, request_id=request.id,
                   resident_code=resident.code, **audit)
    record("footage.request_created", target_type="footage_request", target_id=request.id,
           case_number=request.case_number, cameras=[c.id for c in cameras], start=start.isoformat(),
           end=end.isoformat(), resident_codes=[r.code for r in residents], **audit)
    return request


def new_code() -> str:
    while True:
        code = "SR-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
        if db.session.scalar(select(ResidentHoldRequest.id).where(ResidentHoldRequest.code == code)) is None:
            return code


def masked(phone: str) -> str:
    digits = "".join(c for c in phone if c.isdigit())
    return "*" * max(0, len(digits) - 4) + digits[-4:]


def ask_resident(camera_ids: Sequence[int], start: dt.datetime, end: dt.datetime, *, phone: str, name: str,
                 police_report_number: str, description: str, ip: str, now: dt.datetime) -> ResidentHoldRequest:
    """A resident's request: a short hold on public cameras' footage; the resident is never shown any of it."""
    check_span(start, end, now)
    cameras = check_cameras(camera_ids, public_only=True)
    keep_until = now + dt.timedelta(days=_settings().resident_hold_days)
    resident = ResidentHoldRequest(
        code=new_code(), phone=phone, name=name.strip(), police_report_number=police_report_number.strip(),
        description=description.strip(), start_at=start, end_at=end, camera_ids=[c.id for c in cameras],
        keep_until=keep_until, ip=ip[:64], created_at=now,
    )
    db.session.add(resident)
    db.session.flush()
    for camera in cameras:
        holds.put(camera.id, start, end, kind=HoldKind.RESIDENT, keep_until=keep_until,
                  reason=f"resident request {resident.code}", resident_request_id=resident.id)
    record("footage.resident_hold_created", actor="anonymous", ip=ip, target_type="resident_hold_request",
           target_id=resident.id, code=resident.code, cameras=[c.id for c in cameras], start=start.isoformat(),
           end=end.isoformat(), phone=masked(phone), police_report_number=resident.police_report_number[:80],
           keep_until=keep_until.isoformat())
    return resident
