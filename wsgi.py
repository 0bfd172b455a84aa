"""``gunicorn wsgi:app`` serves the portal; settings come from PANTAU_* environment variables."""

from portal import create_app

app = create_app()
