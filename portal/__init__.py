"""Pantau's control plane: the Flask application (``create_app``), models, worker API and CLI."""

from portal.app import create_app

__all__ = ["create_app"]
__version__ = "0.1.0"
