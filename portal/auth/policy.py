"""Deny by default: every endpoint declares which roles may use it; one that declares nothing refuses everyone.

Declare with the :func:`allow` decorator on a view (``@allow(PUBLIC)``, ``@allow("operator", "admin")``),
or for endpoints a view decorator can't reach (Flask's ``static``) with ``policy.allow_endpoint``. A
blueprint may set a default for its endpoints with ``policy.allow_blueprint``; a view's own declaration wins.

The roles a request holds come from identifiers registered with ``policy.identify``: every request holds
``public``; a signed-in user adds their role; a transcoder worker with a valid credential adds ``worker``.
A request refused while it holds only ``public`` gets 401 (a blueprint may answer in its own way, e.g. a JSON
body, and ``on_denied_default`` sets the answer for the others: the sign-in page, see ``portal.auth.sessions``);
one refused while signed in gets 403.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import Flask, abort, current_app, request
from flask.typing import ResponseReturnValue

PUBLIC = "public"  # anyone, signed in or not
WORKER = "worker"  # a transcoder worker holding its own credential (a machine, not a person)
AGENCY_SYSTEM = "agency_system"  # an agency's own system holding its API token (portal.agency.api)
STAFF_ROLES = ("operator", "agency", "police", "admin", "leadership")
ALL_ROLES = (PUBLIC, *STAFF_ROLES, WORKER, AGENCY_SYSTEM)
ATTRIBUTE = "pantau_roles"

F = TypeVar("F", bound=Callable[..., Any])
Identifier = Callable[[], Iterable[str]]
DenialHandler = Callable[[bool], ResponseReturnValue]  # called with "signed in?"; returns the response


def _checked(roles: Iterable[str]) -> frozenset[str]:
    wanted = frozenset(roles)
    unknown = wanted - set(ALL_ROLES)
    if not wanted or unknown:
        raise ValueError(f"roles must be some of {ALL_ROLES}, got {sorted(wanted)}")
    return wanted


def allow(*roles: str) -> Callable[[F], F]:
    """Declare who may use this view: ``@allow(PUBLIC)`` or ``@allow("operator", "admin")``."""
    wanted = _checked(roles)

    def decorate(view: F) -> F:
        setattr(view, ATTRIBUTE, wanted)
        return view

    return decorate


class Policy:
    def __init__(self) -> None:
        self.endpoint_roles: dict[str, frozenset[str]] = {}
        self.blueprint_roles: dict[str, frozenset[str]] = {}
        self.identifiers: list[Identifier] = []
        self.denial_handlers: dict[str, DenialHandler] = {}
        self.default_denial: DenialHandler | None = None

    def allow_endpoint(self, endpoint: str, *roles: str) -> None:
        self.endpoint_roles[endpoint] = _checked(roles)

    def allow_blueprint(self, blueprint: str, *roles: str) -> None:
        self.blueprint_roles[blueprint] = _checked(roles)

    def identify(self, identifier: Identifier) -> Identifier:
        self.identifiers.append(identifier)
        return identifier

    def on_denied(self, blueprint: str, handler: DenialHandler) -> None:
        self.denial_handlers[blueprint] = handler

    def on_denied_default(self, handler: DenialHandler) -> None:
        """The answer for blueprints without their own (e.g. a redirect to the sign-in page)."""
        self.default_denial = handler

    def roles_for(self, app: Flask, endpoint: str) -> frozenset[str] | None:
        """The roles an endpoint declared, or None when it declared nothing (refused to everyone)."""
        view = app.view_functions.get(endpoint)
        declared = getattr(view, ATTRIBUTE, None)
        if declared is not None:
            return declared  # type: ignore[no-any-return]
        if endpoint in self.endpoint_roles:
            return self.endpoint_roles[endpoint]
        blueprint = endpoint.rsplit(".", 1)[0] if "." in endpoint else None
        return self.blueprint_roles.get(blueprint) if blueprint else None

    def current_roles(self) -> frozenset[str]:
        """The roles this request holds (computed once per request)."""
        cached = request.environ.get("pantau.roles")
        if cached is None:
            held = {PUBLIC}
            for identifier in self.identifiers:
                held.update(identifier())
            cached = request.environ["pantau.roles"] = frozenset(held)
        return cached  # type: ignore[no-any-return]

    def check(self) -> ResponseReturnValue | None:
        """``before_request``: let the request through, or answer 401/403."""
        endpoint = request.endpoint
        if endpoint is None:  # no route matched: the 404/405 handlers answer
            return None
        wanted = self.roles_for(current_app, endpoint)
        if wanted is not None and wanted & self.current_roles():
            return None
        if wanted is None:
            abort(403)  # undeclared: refused to everyone, and signing in would not help
        signed_in = bool(self.current_roles() - {PUBLIC})
        handler = self.denial_handlers.get(request.blueprint or "", self.default_denial)
        if handler is not None:
            return handler(signed_in)
        abort(403 if signed_in else 401)


def init_app(app: Flask) -> Policy:
    policy = Policy()
    policy.allow_endpoint("static", PUBLIC)
    app.extensions["pantau_policy"] = policy
    app.before_request(policy.check)
    return policy


def get_policy(app: Flask | None = None) -> Policy:
    return (app or current_app).extensions["pantau_policy"]  # type: ignore[no-any-return]
