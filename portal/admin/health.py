"""The health dashboard for admins and operators: cameras by state, the workers (alive, cameras held, capacity,
CPU, free disk, last sync), the cameras that are down with their last error (credentials removed) and since
when, refreshed without reloading; and one camera's recent history (outages, restarts, errors)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import abort, current_app, make_response, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from portal.admin.blueprint import HEALTH_ROLES, bp, is_fragment, vary
from portal.auth.policy import allow
from portal.models import Camera, CameraEvent, CameraLease, CameraStatus, Worker, db, utcnow
from portal.public.catalogue import effective_status
from portal.secret import redact_text

REFRESH_S = 5
DOWN = ("offline", "error")


def dashboard(now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    lease_seconds = int(current_app.config["PANTAU"].lease_seconds)
    window = now - dt.timedelta(seconds=lease_seconds)
    held = dict(db.session.execute(select(CameraLease.worker_id, func.count()).where(CameraLease.expires_at >= now)
                                   .group_by(CameraLease.worker_id)).all())
    workers = []
    for w in db.session.scalars(select(Worker).order_by(Worker.name)):
        health = w.health or {}
        workers.append({
            "name": w.name, "hostname": w.hostname, "version": w.version, "alive": w.last_seen_at >= window,
            "media_url": w.media_url,
            "cameras": held.get(w.id, 0), "capacity": w.capacity, "cpu_percent": health.get("cpu_percent"),
            "load1": health.get("load1"), "disk_free_bytes": w.disk_free_bytes, "disk_total_bytes": w.disk_total_bytes,
            "disk_guard_active": w.disk_guard_active, "last_seen_at": w.last_seen_at,
            "last_seen_s": max(0.0, (now - w.last_seen_at).total_seconds()),
        })
    by_state: dict[str, int] = {}
    down: list[dict[str, Any]] = []
    rows = db.session.execute(
        select(Camera.id, Camera.name, Camera.district, Camera.enabled, CameraStatus.status, CameraStatus.updated_at,
               CameraStatus.error, CameraStatus.last_online_at, CameraStatus.restarts_last_hour, Camera.created_at)
        .outerjoin(CameraStatus, CameraStatus.camera_id == Camera.id)
        .where(Camera.archived_at.is_(None))
    )
    for cid, name, district, enabled, status, updated, error, last_online, restarts, created in rows:
        state = "disabled" if not enabled else effective_status(status, updated, now=now, lease_seconds=lease_seconds)
        by_state[state] = by_state.get(state, 0) + 1
        if state in DOWN:
            since = last_online or created
            down.append({"id": cid, "name": name, "district": district or "", "state": state,
                         "error": redact_text(error)[:300] if error else None, "since": since,
                         "down_s": max(0.0, (now - since).total_seconds()) if since else None,
                         "restarts_last_hour": restarts or 0})
    down.sort(key=lambda d: (-float(d["down_s"] or 0), str(d["name"])))
    return {"at": now, "workers": workers, "by_state": by_state, "down": down[:200], "down_total": len(down),
            "refresh_s": REFRESH_S}


@bp.get("/kesehatan")
@allow(*HEALTH_ROLES)
def health() -> ResponseReturnValue:
    template = "admin/_health.html" if is_fragment() else "admin/health.html"
    return vary(make_response(render_template(template, **dashboard())))


@bp.get("/kesehatan/kamera/<int:camera_id>")
@allow(*HEALTH_ROLES)
def camera_history(camera_id: int) -> ResponseReturnValue:
    camera = db.session.get(Camera, camera_id)
    if camera is None:
        abort(404)
    events = db.session.scalars(select(CameraEvent).where(CameraEvent.camera_id == camera_id)
                                .order_by(CameraEvent.at.desc()).limit(100)).all()
    status = camera.status
    tail: list[str] = []
    if status is not None and status.stderr_tail:
        try:
            tail = [redact_text(str(line)) for line in json.loads(status.stderr_tail)][-20:]
        except ValueError:
            tail = []
    day_ago = utcnow() - dt.timedelta(days=1)
    counts = {kind: sum(1 for e in events if e.kind == kind and e.at >= day_ago) for kind in ("down", "restart")}
    state = effective_status(status.status if status else None, status.updated_at if status else None)
    error = redact_text(status.error) if status is not None and status.error else None
    return render_template("admin/camera_history.html", camera=camera, events=events, error=error, tail=tail,
                           counts=counts, state=state if camera.enabled else "disabled")
