"""Who is acting, and from where: the signed-in user and the request's address, for audit entries and logs.

``current_actor()`` works anywhere: outside a request it is the system. The address is ``request.remote_addr``,
which the app's trusted-proxy handling (ProxyFix) turns into the client's when Pantau runs behind nginx.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import has_request_context, request


@dataclass(frozen=True)
class Actor:
    name: str  # the username, "anonymous" for a request without one, "system" outside a request
    user_id: int | None
    ip: str | None
    role: str | None = None

    def audit_fields(self) -> dict[str, object]:
        """Keyword arguments for ``record()``: ``record("x.y", **current_actor().audit_fields(), ...)``."""
        return {"actor": self.name, "actor_user_id": self.user_id, "ip": self.ip}


SYSTEM = Actor(name="system", user_id=None, ip=None)


def current_actor() -> Actor:
    if not has_request_context():
        return SYSTEM
    from flask_login import current_user

    ip = (request.remote_addr or None) if request else None
    user = current_user._get_current_object() if current_user else None  # type: ignore[attr-defined]
    if user is not None and getattr(user, "is_authenticated", False):
        return Actor(name=user.username, user_id=user.id, ip=ip, role=user.role)
    return Actor(name="anonymous", user_id=None, ip=ip)
