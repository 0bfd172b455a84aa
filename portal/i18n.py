"""Language: Bahasa Indonesia by default, English on request (``?lang=en``, remembered in a cookie)."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, current_app, request
from flask_babel import Babel

LANGUAGES = {"id": "Bahasa Indonesia", "en": "English"}
COOKIE = "lang"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def select_locale() -> str:
    wanted = request.args.get("lang") or request.cookies.get(COOKIE)
    if wanted in LANGUAGES:
        return wanted
    return str(current_app.config["PANTAU"].default_locale)


def compile_catalogues() -> None:
    """Compile ``.po`` to ``.mo`` where the compiled file is missing or older (install does it too)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        try:
            with po.open("rb") as src:
                catalog = read_po(src)
            tmp = mo.with_suffix(".mo.tmp")
            with tmp.open("wb") as dst:
                write_mo(dst, catalog)
            tmp.replace(mo)
        except OSError:  # a read-only install: it ships compiled catalogues
            continue


def init_app(app: Flask) -> None:
    compile_catalogues()
    Babel(app, locale_selector=select_locale, default_translation_directories=str(TRANSLATIONS))

    @app.after_request
    def _remember(response: Response) -> Response:
        lang = request.args.get("lang")
        if lang in LANGUAGES:
            response.set_cookie(COOKIE, lang, max_age=365 * 86400, samesite="Lax")
        return response

    @app.context_processor
    def _languages() -> dict[str, object]:
        return {"languages": LANGUAGES, "current_locale": select_locale()}
