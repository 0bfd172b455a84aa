"""The health of cameras and workers: a summary for admins, and Prometheus text at ``/metrics``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, abort, current_app, request
from sqlalchemy import func, select

from portal import networks
from portal.auth.policy import PUBLIC, allow
from portal.models import Camera, CameraLease, CameraStatus, Worker, db, utcnow
from portal.models.incident import OutboxMessage
from portal.public.catalogue import effective_status, reason_message
from portal.secret import tokens_equal

bp = Blueprint("health", __name__)
PROBLEMS = ("offline", "auth_failed", "unsupported", "error")


def summary(now: dt.datetime | None = None) -> dict[str, Any]:
    """Workers (alive or not, disk, their own figures) and cameras by effective status."""
    now = now or utcnow()
    lease_seconds = current_app.config["PANTAU"].lease_seconds
    window = now - dt.timedelta(seconds=lease_seconds)
    leased = dict(
        (row[0], row[1])
        for row in db.session.execute(
            select(CameraLease.worker_id, func.count()).where(CameraLease.expires_at >= now)
            .group_by(CameraLease.worker_id)
        )
    )
    workers = [
        {
            "name": w.name,
            "hostname": w.hostname,
            "version": w.version,
            "media_url": w.media_url,
            "alive": w.last_seen_at >= window,
            "last_seen_at": w.last_seen_at.isoformat(),
            "cameras": leased.get(w.id, 0),
            "capacity": w.capacity,
            "disk_free_bytes": w.disk_free_bytes,
            "disk_total_bytes": w.disk_total_bytes,
            "disk_guard_active": w.disk_guard_active,
            "health": w.health or {},
            "credential_active": w.credential_hash is not None,
        }
        for w in db.session.scalars(select(Worker).order_by(Worker.name))
    ]
    by_status: dict[str, int] = {}
    up: dict[int, int] = {}  # enabled cameras: 0 while their effective status is a problem
    problems = []
    rows = db.session.execute(
        select(Camera.id, Camera.name, Camera.enabled, CameraStatus.status, CameraStatus.updated_at,
               CameraStatus.error, CameraStatus.restarts_last_hour, CameraStatus.reason)
        .outerjoin(CameraStatus, CameraStatus.camera_id == Camera.id)
    )
    for cid, name, enabled, status, updated, error, restarts, reason in rows:
        if not enabled:
            effective = "disabled"
        else:
            effective = effective_status(status, updated, now=now, lease_seconds=lease_seconds)
        by_status[effective] = by_status.get(effective, 0) + 1
        if enabled:
            up[cid] = int(effective not in PROBLEMS)
        if effective in PROBLEMS:
            stale = effective != status  # the worker stopped reporting: its last reason no longer holds
            problems.append({"id": cid, "name": name, "status": effective, "reason": None if stale else reason,
                             "message": None if stale else reason_message(reason), "error": error,
                             "restarts_last_hour": restarts or 0})
    return {
        "at": now.isoformat(),
        "workers": workers,
        "cameras": {"total": sum(by_status.values()), "by_status": by_status, "problems": problems[:100],
                    "up": up},
        "disk_guard_active": any(w["disk_guard_active"] for w in workers if w["alive"]),
        "outbox": outbox_summary(now),
    }


def outbox_summary(now: dt.datetime) -> dict[str, Any]:
    """Messages waiting in the outbox (webhooks, CAP, e-mail) by status, and how long the oldest has waited."""
    by_status = {status: count for status, count in db.session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))}
    oldest = db.session.scalar(select(func.min(OutboxMessage.created_at)).where(OutboxMessage.status == "pending"))
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=dt.UTC)
    return {"by_status": by_status,
            "oldest_pending_seconds": max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0}


def prometheus(data: dict[str, Any]) -> str:
    lines = [
        "# HELP pantau_cameras Cameras by effective status.",
        "# TYPE pantau_cameras gauge",
    ]
    for status, count in sorted(data["cameras"]["by_status"].items()):
        lines.append(f'pantau_cameras{{status="{status}"}} {count}')
    lines += ["# HELP pantau_camera_up Whether an enabled camera is up (0: offline, error, auth_failed, unsupported).",
              "# TYPE pantau_camera_up gauge"]
    lines += [f'pantau_camera_up{{camera="{cid}"}} {value}' for cid, value in sorted(data["cameras"]["up"].items())]
    # workers with a credential (a revoked worker is decommissioned: no series, no alert)
    workers = [w for w in data["workers"] if w.get("credential_active", True)]
    lines += ["# HELP pantau_worker_up Whether a worker synced within one lease period.",
              "# TYPE pantau_worker_up gauge"]
    lines += [f'pantau_worker_up{{worker="{_label(w["name"])}"}} {int(w["alive"])}' for w in workers]
    lines += ["# HELP pantau_worker_cameras Cameras leased to a worker.", "# TYPE pantau_worker_cameras gauge"]
    lines += [f'pantau_worker_cameras{{worker="{_label(w["name"])}"}} {w["cameras"]}' for w in data["workers"]]
    lines += ["# HELP pantau_worker_disk_free_bytes Free bytes on a worker's media disk.",
              "# TYPE pantau_worker_disk_free_bytes gauge"]
    lines += [
        f'pantau_worker_disk_free_bytes{{worker="{_label(w["name"])}"}} {w["disk_free_bytes"]}'
        for w in data["workers"] if w["disk_free_bytes"] is not None
    ]
    lines += ["# HELP pantau_worker_disk_total_bytes Size of a worker's media disk.",
              "# TYPE pantau_worker_disk_total_bytes gauge"]
    lines += [
        f'pantau_worker_disk_total_bytes{{worker="{_label(w["name"])}"}} {w["disk_total_bytes"]}'
        for w in data["workers"] if w["disk_total_bytes"] is not None
    ]
    lines += ["# HELP pantau_disk_guard_active Whether a live worker is deleting old footage to free space.",
              "# TYPE pantau_disk_guard_active gauge", f"pantau_disk_guard_active {int(data['disk_guard_active'])}"]
    outbox = data["outbox"]
    lines += ["# HELP pantau_outbox_messages Outbox messages (webhooks, CAP, e-mail) by status.",
              "# TYPE pantau_outbox_messages gauge"]
    by_status = {"pending": 0, **outbox["by_status"]}
    lines += [f'pantau_outbox_messages{{status="{_label(s)}"}} {n}' for s, n in sorted(by_status.items())]
    lines += ["# HELP pantau_outbox_oldest_pending_seconds How long the oldest undelivered message has waited.",
              "# TYPE pantau_outbox_oldest_pending_seconds gauge",
              f"pantau_outbox_oldest_pending_seconds {outbox['oldest_pending_seconds']:.0f}"]
    return "\n".join(lines) + "\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def may_scrape() -> bool:
    """/metrics counts every camera, private ones too, and names workers: only for the configured networks
    (``PANTAU_METRICS_NETWORKS``, loopback by default) or with ``Authorization: Bearer <PANTAU_METRICS_TOKEN>``."""
    settings = current_app.config["PANTAU"]
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else None
    return networks.client_in(settings.metrics_network_list) or tokens_equal(token, settings.metrics_token)


@bp.get("/metrics")
@allow(PUBLIC)
def metrics() -> Response:
    if not may_scrape():
        abort(403)
    response = Response(prometheus(summary()), mimetype="text/plain; version=0.0.4")
    response.headers["Cache-Control"] = "no-store"
    return response
