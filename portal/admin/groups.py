"""Camera groups and the video wall: admins group cameras; signed-in staff open a group as a wall of live views,
private cameras included where their role allows (agency staff and police: their own agency's)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import func, select

from portal.admin.blueprint import ADMIN, WALL_ROLES, bp
from portal.auth.policy import allow
from portal.media import passes
from portal.media.views import may_view, publicly_visible
from portal.models import Camera, CameraGroup, CameraGroupMember, db
from portal.models.audit import record
from portal.public.catalogue import PublicCamera, effective_status, public_properties

WALL_MAX = 16


def _group_or_404(group_id: int) -> CameraGroup:
    group = db.session.get(CameraGroup, group_id)
    if group is None:
        abort(404)
    return group


def wall_camera(camera: Camera) -> PublicCamera:
    """The player's view of a camera (the same player as the public pages; no source URL in it)."""
    status = camera.status
    state = effective_status(status.status if status else None, status.updated_at if status else None)
    return PublicCamera(id=camera.id, name=camera.name, description=camera.description or "",
                        district=camera.district or "", category=camera.category or "other",
                        latitude=camera.latitude, longitude=camera.longitude, media_key=camera.media_key,
                        status=state if camera.enabled else "offline",
                        last_online_at=status.last_online_at if status else None,
                        codec=status.codec if status else None, media_base=media_base(camera),
                        media_pass=media_pass(camera), public=publicly_visible(camera))


def media_base(camera: Camera) -> str:
    """The media node that runs the camera now ("" for the portal's own /media)."""
    lease = camera.lease
    return (lease.worker.media_url or "") if lease is not None else ""


def media_pass(camera: Camera) -> str:
    """A private camera on a node: the staff member's browser gets a media pass (the node cannot see the
    portal's session cookie). Only for people who may view it: the callers check ``may_view`` first."""
    if publicly_visible(camera) or not media_base(camera):
        return ""
    return passes.issue(camera.media_key)


@bp.get("/grup")
@allow(*WALL_ROLES)
def groups() -> ResponseReturnValue:
    counts = dict(db.session.execute(
        select(CameraGroupMember.group_id, func.count()).group_by(CameraGroupMember.group_id)).all())
    rows = db.session.scalars(select(CameraGroup).order_by(CameraGroup.name)).all()
    return render_template("admin/groups.html", groups=rows, counts=counts, may_edit=current_user.role in ADMIN)


@bp.get("/grup/<int:group_id>")
@allow(*WALL_ROLES)
def wall(group_id: int) -> ResponseReturnValue:
    group = _group_or_404(group_id)
    members = [m.camera for m in group.members if m.camera.archived_at is None]
    visible = [c for c in members if may_view(c)]
    hidden = len(members) - len(visible)
    players = []
    for camera in visible[:WALL_MAX]:
        view = wall_camera(camera)
        players.append({"camera": view, "props": public_properties(view),
                        "status_url": url_for("admin.camera_status", camera_id=camera.id),
                        "public": camera.public})
    return render_template("admin/wall.html", group=group, players=players, hidden=hidden,
                           more=max(0, len(visible) - WALL_MAX), live_timeout_s=0, snapshot_interval_s=5)


def _camera_choices() -> list[Camera]:
    return list(db.session.scalars(select(Camera).where(Camera.archived_at.is_(None)).order_by(Camera.district,
                                                                                                Camera.name)))


def _save(group: CameraGroup, creating: bool) -> str | None:
    name = " ".join(request.form.get("name", "").split())[:120]
    if not name:
        return gettext("The group needs a name.")
    clash = db.session.scalar(select(CameraGroup).where(func.lower(CameraGroup.name) == name.lower(),
                                                       CameraGroup.id != (group.id or -1)))
    if clash is not None:
        return gettext("Another group has this name.")
    ids = [int(v) for v in request.form.getlist("cameras") if v.isdigit()]
    known = set(db.session.scalars(select(Camera.id).where(Camera.id.in_(ids))))
    ordered = [i for i in dict.fromkeys(ids) if i in known]
    before = {"name": group.name, "cameras": [m.camera_id for m in group.members]}
    group.name = name
    group.description = request.form.get("description", "").strip()[:2000]
    group.members = [CameraGroupMember(camera_id=cid, position=n) for n, cid in enumerate(ordered)]
    if creating:
        db.session.add(group)
    db.session.flush()
    record("group.create" if creating else "group.update", target_type="group", target_id=group.id,
           before=None if creating else before, after={"name": name, "cameras": ordered})
    return None


@bp.route("/grup/baru", methods=["GET", "POST"])
@allow(*ADMIN)
def group_new() -> ResponseReturnValue:
    group = CameraGroup(name="", description="")
    problem = None
    if request.method == "POST":
        problem = _save(group, creating=True)
        if problem is None:
            db.session.commit()
            flash(gettext("Group %(name)s was saved.", name=group.name))
            return redirect(url_for("admin.groups"))
        db.session.rollback()
    return render_template("admin/group_form.html", group=group, cameras=_camera_choices(), problem=problem,
                           chosen={int(v) for v in request.form.getlist("cameras") if v.isdigit()}), \
        400 if problem else 200


@bp.route("/grup/<int:group_id>/ubah", methods=["GET", "POST"])
@allow(*ADMIN)
def group_edit(group_id: int) -> ResponseReturnValue:
    group = _group_or_404(group_id)
    problem = None
    if request.method == "POST":
        if request.form.get("delete") == "1":
            record("group.delete", target_type="group", target_id=group.id, name=group.name)
            db.session.delete(group)
            db.session.commit()
            flash(gettext("The group was deleted (its cameras were not)."))
            return redirect(url_for("admin.groups"))
        problem = _save(group, creating=False)
        if problem is None:
            db.session.commit()
            flash(gettext("Group %(name)s was saved.", name=group.name))
            return redirect(url_for("admin.groups"))
        db.session.rollback()
        group = _group_or_404(group_id)
    chosen = {m.camera_id for m in group.members}
    return render_template("admin/group_form.html", group=group, cameras=_camera_choices(), problem=problem,
                           chosen=chosen), 400 if problem else 200
