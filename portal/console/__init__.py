"""The 112 operators' console (issue 10, item 3): the live queue of reports, a report's page with its place on
a map, the nearest public and private cameras with their live view and snapshots saved as evidence, likely
duplicates to merge, and the steps (verify, reject with a reason, merge, priority, dispatch), which live in
``portal.incidents.lifecycle`` so other areas take them the same way."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.console.views import bp

    app.register_blueprint(bp)
