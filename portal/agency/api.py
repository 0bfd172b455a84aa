"""The callback API for agencies' own systems (``/api/agency/v1/``, documented in docs/agency-api.md).

A system presents its agency's API token as a bearer token (no cookies, so no CSRF); it sees and changes only
its agency's dispatches (another agency's is 404, like one that does not exist). A status change carries a
``request_id`` the client chooses (or an ``Idempotency-Key`` header): the same id again gets the first answer
again, without a second change. CAP 1.2 Acks go to ``/api/agency/v1/cap``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError

from portal import bounds
from portal.agency import cap, service, tokens
from portal.agency.presenting import dispatch_json
from portal.auth.policy import AGENCY_SYSTEM, PUBLIC, Policy, allow
from portal.bounds import InputError
from portal.models import AgencyCallback, AgencyToken, Dispatch, db, utcnow
from portal.models.audit import record

log = logging.getLogger("pantau.agency_api")
bp = Blueprint("agency_api", __name__, url_prefix="/api/agency/v1")
MAX_JSON_BYTES = 8 * 1024
MAX_REQUEST_ID = 100
LIST_LIMIT = 200
KEEP_CALLBACKS = dt.timedelta(days=30)  # how long a request id is remembered (idempotency window)
PRUNE_EVERY = 200  # callbacks: every this many, the expired ones are deleted


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header[:7].lower() == "bearer " else None


def identify_agency_system() -> set[str]:
    """A request to this API bearing a live agency token holds ``agency_system``; ``current_token()`` is it."""
    if request.blueprint != bp.name:
        return set()
    row = tokens.token_for(_bearer())
    if row is None:
        return set()
    g.pantau_agency_token = row
    return {AGENCY_SYSTEM}


def current_token() -> AgencyToken:
    return g.pantau_agency_token  # type: ignore[no-any-return]


def refuse(_signed_in: bool) -> ResponseReturnValue:
    log.warning("agency API: refused a request without a valid token from %s", request.remote_addr)
    return (jsonify(error="unauthorized", message="a valid agency API token is required (Authorization: Bearer)"),
            401, {"WWW-Authenticate": 'Bearer realm="pantau-agency"', "Cache-Control": "no-store"})


def init_policy(policy: Policy) -> None:
    policy.allow_blueprint(bp.name, AGENCY_SYSTEM)
    policy.identify(identify_agency_system)
    policy.on_denied(bp.name, refuse)


@bp.before_request
def _limit_body() -> None:
    request.max_content_length = cap.MAX_BYTES if request.endpoint == "agency_api.cap_ack" else MAX_JSON_BYTES


@bp.errorhandler(InputError)
def _bad_input(exc: InputError) -> ResponseReturnValue:
    db.session.rollback()
    with force_locale("en"):  # a machine API: its errors are read in logs, in English like its documentation
        detail = str(exc)
    return jsonify(error="bad_request", detail=detail), 400


def _own_dispatch(dispatch_id: int, *, lock: bool = False) -> Dispatch | None:
    dispatch = db.session.get(Dispatch, dispatch_id, with_for_update=lock or None)
    if dispatch is None or dispatch.agency_id != current_token().agency_id:
        return None
    return dispatch


def _not_found() -> ResponseReturnValue:
    return jsonify(error="not_found", detail="no such dispatch for this agency"), 404


@bp.get("/openapi.json")
@allow(PUBLIC)
def openapi() -> ResponseReturnValue:
    """This API's OpenAPI 3.1 document (public: it holds no data)."""
    from portal.agency.openapi import document

    return jsonify(document())


@bp.get("/dispatches")
def dispatches() -> ResponseReturnValue:
    """This agency's open dispatches (``?semua=1``: the latest ones, closed too)."""
    query = select(Dispatch).where(Dispatch.agency_id == current_token().agency_id)
    if request.args.get("semua") != "1":
        query = query.where(or_(*(Dispatch.status == s for s in service.OPEN_STATUSES)))
    rows = db.session.scalars(query.order_by(Dispatch.created_at.desc(), Dispatch.id.desc()).limit(LIST_LIMIT))
    body = {"dispatches": [dispatch_json(d) for d in rows]}
    db.session.commit()  # the token's last use
    return _json(body, 200)


@bp.get("/dispatches/<int:dispatch_id>")
def dispatch(dispatch_id: int) -> ResponseReturnValue:
    found = _own_dispatch(dispatch_id)
    if found is None:
        return _not_found()
    body = {"dispatch": dispatch_json(found, events=True)}
    db.session.commit()
    return _json(body, 200)


def _json(body: dict[str, Any], status: int, *, replayed: bool = False) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _request_id(body: dict[str, Any]) -> str:
    header = request.headers.get("Idempotency-Key")
    value = body.get("request_id", header)
    return bounds.text(value, "request_id", max_len=MAX_REQUEST_ID, min_len=1)  # type: ignore[no-any-return]


def _fingerprint(**what: Any) -> str:
    return hashlib.sha256(json.dumps(what, sort_keys=True, ensure_ascii=True).encode()).hexdigest()


def _replay(request_id: str, fingerprint: str) -> Response | None:
    earlier = db.session.scalar(select(AgencyCallback).where(AgencyCallback.agency_id == current_token().agency_id,
                                                             AgencyCallback.request_id == request_id))
    if earlier is None:
        return None
    if earlier.fingerprint != fingerprint:
        return _json({"error": "conflict", "detail": "this request_id was used for a different request"}, 422)
    return _json(earlier.response, earlier.http_status, replayed=True)


def _commit_with(request_id: str, fingerprint: str, dispatch_id: int | None, body: dict[str, Any],
                 status: int) -> Response:
    """Keep the answer with the change (one transaction); a concurrent twin that won gets replayed."""
    row = AgencyCallback(agency_id=current_token().agency_id, request_id=request_id, fingerprint=fingerprint,
                         dispatch_id=dispatch_id, http_status=status, response=body, created_at=utcnow())
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        replay = _replay(request_id, fingerprint)
        if replay is None:
            raise
        return replay
    if row.id % PRUNE_EVERY == 0:
        prune_callbacks(utcnow())
    return _json(body, status)


def prune_callbacks(now: dt.datetime) -> int:
    """Forget request ids older than ``KEEP_CALLBACKS`` (a retry after a month is a new request)."""
    gone = db.session.execute(delete(AgencyCallback).where(AgencyCallback.created_at < now - KEEP_CALLBACKS))
    db.session.commit()
    return int(gone.rowcount or 0)  # type: ignore[attr-defined]


@bp.post("/dispatches/<int:dispatch_id>/status")
def change_status(dispatch_id: int) -> ResponseReturnValue:
    """``{"status": "acknowledged|en_route|on_scene|done|handed_back", "reason": "...", "request_id": "..."}``"""
    raw = bounds.read_json(request)
    body = bounds.mapping(raw, "body")
    unknown = set(body) - {"status", "reason", "request_id"}
    if unknown:
        raise InputError(sorted(unknown)[0][:40], "is not a known field")
    request_id = _request_id(body)
    status = bounds.choice(body.get("status"), "status", (*service.AGENCY_STATUSES, *service.ALIASES))
    reason = bounds.text(body.get("reason"), "reason", max_len=service.MAX_REASON, multiline=True, default="")
    fingerprint = _fingerprint(dispatch=dispatch_id, status=service.normalise(status), reason=reason)
    replay = _replay(request_id, fingerprint)
    if replay is not None:
        return replay
    found = _own_dispatch(dispatch_id, lock=True)
    if found is None:
        db.session.rollback()
        return _not_found()
    token = current_token()
    try:
        with force_locale("en"):
            service.advance(found, status, reason=reason, via="api", token=token.name)
    except service.TransitionError as exc:
        db.session.rollback()
        body_out = {"error": "conflict" if exc.status == 409 else "bad_request", "detail": exc.message,
                    "dispatch": dispatch_json(_own_dispatch(dispatch_id) or found)}
        if exc.status != 409:
            return _json(body_out, exc.status)
        return _commit_with(request_id, fingerprint, dispatch_id, body_out, 409)
    _audit(token, "agency.api_status", found, status=found.status, request_id=request_id)
    return _commit_with(request_id, fingerprint, found.id, {"dispatch": dispatch_json(found)}, 200)


def _audit(token: AgencyToken, action: str, found: Dispatch, **detail: Any) -> None:
    record(action, actor=f"agency-token:{token.id}:{token.name}"[:120], actor_user_id=None,
           ip=request.remote_addr, target_type="dispatch", target_id=found.id, agency_id=token.agency_id, **detail)


@bp.post("/cap")
def cap_ack() -> ResponseReturnValue:
    """A CAP 1.2 Ack (``application/cap+xml`` or ``application/xml``) referencing our dispatch alerts."""
    if (request.content_length or 0) > cap.MAX_BYTES:
        return jsonify(error="too_large", detail=f"at most {cap.MAX_BYTES} bytes"), 413
    data = request.get_data(cache=False)
    try:
        with force_locale("en"):
            ack = cap.parse_ack(data)
    except cap.CapError as exc:
        return jsonify(error="bad_request", detail=str(exc)), 400
    ids = []
    for identifier in ack.referenced:
        dispatch_id = cap.dispatch_id_of(identifier)
        if dispatch_id is None:
            return jsonify(error="not_found", detail=f"no dispatch alert with identifier {identifier[:100]}"), 404
        ids.append(dispatch_id)
    request_id = ("cap:" + ack.identifier)[:MAX_REQUEST_ID]
    fingerprint = _fingerprint(cap=sorted(set(ids)))
    replay = _replay(request_id, fingerprint)
    if replay is not None:
        return replay
    token = current_token()
    acknowledged, unchanged = [], []
    for dispatch_id in sorted(set(ids)):
        found = _own_dispatch(dispatch_id, lock=True)
        if found is None:
            db.session.rollback()
            return _not_found()
        if service.ACKNOWLEDGED in service.allowed_next(found) and found.status in ("pending", "sent"):
            with force_locale("en"):
                service.advance(found, service.ACKNOWLEDGED, via="cap", token=token.name, cap_identifier=ack.identifier)
            _audit(token, "agency.cap_ack", found, cap_identifier=ack.identifier)
            acknowledged.append(dispatch_id)
        else:
            unchanged.append(dispatch_id)
    body = {"acknowledged": acknowledged, "unchanged": unchanged}
    return _commit_with(request_id, fingerprint, ids[0] if len(ids) == 1 else None, body, 200)
