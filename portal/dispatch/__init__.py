"""Routing and dispatch: routing rules choose agencies, each dispatch is delivered through the outbox (signed
webhook, CAP 1.2, e-mail) by the jobs process (``pantau jobs``), with retries and SLA escalation (issue 10)."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Add the dispatch admin pages to the console's blueprint (before the console registers it)."""
    from portal.dispatch import admin_views  # noqa: F401  (its routes join the admin blueprint)
