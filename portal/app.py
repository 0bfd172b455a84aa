"""The application factory."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import Flask
from flask_migrate import Migrate

from contract.redaction import install_log_redaction
from portal import bounds, dbwait, errors, i18n, security
from portal.models import db
from portal.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "migrations"
migrate = Migrate()
log = logging.getLogger("pantau")


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env(os.environ)
    install_log_redaction()  # camera credentials never reach a log line, whoever logs them
    app = Flask(
        "portal",
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(Path(settings.instance_path).resolve()),
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings.database_url),
        PANTAU=settings,
        SESSION_COOKIE_NAME="pantau_session",  # nginx keys its media-access cache on this cookie alone
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.env == "production",
        JSON_SORT_KEYS=False,
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS), render_as_batch=True)
    i18n.init_app(app)
    bounds.init_app(app)  # bounded <int:...> ids, before any route is added

    from portal import admin, agency, auth, console, dispatch, footage, open311, reports, stats
    from portal.auth import policy as access
    from portal.health import views as health
    from portal.media import views as media
    from portal.public import api
    from portal.public import views as public
    from portal.workers import api as worker_api

    app.register_blueprint(public.bp)
    app.register_blueprint(media.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(worker_api.bp)
    app.register_blueprint(health.bp)
    dispatch.init_app(app)
    admin.init_app(app)
    policy = access.init_app(app)
    worker_api.init_policy(policy)
    auth.init_app(app, policy)
    auth.csrf.exempt(worker_api.bp)  # machines with a bearer token, no cookies
    footage.init_app(app)
    agency.init_app(app, policy)
    reports.init_app(app)
    console.init_app(app)
    errors.init_app(app)
    open311.init_app(app)  # after errors: its answers under /open311/ take the spec's shape
    stats.init_app(app)
    security.init_app(app)
    dbwait.init_app(app, settings.db_wait_s)  # outermost: a replayed request goes through everything again

    return app


def _engine_options(url: str) -> dict[str, object]:
    # hide_parameters: a database error's message never carries the values (a camera's source URL)
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}, "hide_parameters": True}
    return {"pool_pre_ping": True, "hide_parameters": True}
