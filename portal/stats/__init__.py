"""Statistics for planning (issue 10): placeholder, filled below."""
from flask import Flask


def init_app(app: Flask) -> None:
    pass
