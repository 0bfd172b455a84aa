"""Language: Bahasa Indonesia by default, English on request (``?lang=en``, remembered in a cookie)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask, Response, current_app, request
from flask_babel import Babel, format_date, format_datetime, format_time, format_timedelta, gettext

LANGUAGES = {"id": "Bahasa Indonesia", "en": "English"}
COOKIE = "lang"
# Indonesia's own names for its time zones, understood in both languages.
ZONES = {"Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}
PORTAL = Path(__file__).resolve().parent
TRANSLATIONS = PORTAL / "translations"


def translation_directories() -> list[Path]:
    """The shared catalogue, then one per area package that has its own (``portal/<area>/translations``).

    Each area keeps its messages beside its code, so areas are translated (and merged) independently;
    Flask-Babel merges the catalogues in this order.
    """
    return [TRANSLATIONS, *sorted(p for p in PORTAL.glob("*/translations") if p.is_dir())]


def select_locale() -> str:
    wanted = request.args.get("lang") or request.cookies.get(COOKIE)
    if wanted in LANGUAGES:
        return wanted
    return str(current_app.config["PANTAU"].default_locale)


def compile_catalogues() -> None:
    """Compile ``.po`` to ``.mo`` where the compiled file is missing or older (install does it too)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in (po for d in translation_directories() for po in d.glob("*/LC_MESSAGES/messages.po")):
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
    directories = ";".join(str(d) for d in translation_directories())
    Babel(app, locale_selector=select_locale, default_translation_directories=directories,
          default_timezone=app.config["PANTAU"].timezone)
    app.add_template_filter(when, "when")
    app.add_template_filter(last_seen, "last_seen")

    @app.after_request
    def _remember(response: Response) -> Response:
        lang = request.args.get("lang")
        if lang in LANGUAGES:
            response.set_cookie(COOKIE, lang, max_age=365 * 86400, samesite="Lax", httponly=True,
                                secure=current_app.config["PANTAU"].env == "production")
        return response

    @app.context_processor
    def _languages() -> dict[str, object]:
        return {"languages": LANGUAGES, "current_locale": select_locale(), "lang_url": lang_url}


def lang_url(code: str) -> str:
    """This page in another language, its other query parameters kept."""
    args = request.args.to_dict(flat=False)
    args["lang"] = [code]
    return f"{request.path}?{urlencode(args, doseq=True)}"


def when(moment: dt.datetime) -> str:
    """A moment in the city's time zone, in the reader's language (``22 Nov 2026, 21.50 WITA``)."""
    zone = ZONES.get(current_app.config["PANTAU"].timezone) or format_datetime(moment, "zzz")
    return f"{format_date(moment, 'medium')}, {format_time(moment, 'short')} {zone}"


def last_seen(moment: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """``Last seen 22 Nov 2026, 21.50 WITA (2 hours ago)``, or that it never was."""
    if moment is None:
        return gettext("Never seen online yet")
    now = now or dt.datetime.now(dt.UTC)
    ago = format_timedelta(moment - now, add_direction=True, threshold=1.0)
    return gettext("Last seen %(when)s (%(ago)s)", when=when(moment), ago=ago)
