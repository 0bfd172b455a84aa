"""OASIS CAP 1.2 messages for agencies: Alert when a report is dispatched to them, Update when the dispatch
changes, Cancel when the report is rejected or merged. Scope Private, addressed to the agency; every time in the
city's offset (``+08:00`` for Kendari), never ``Z``, as the schema's pattern wants (``schema/CAP-v1.2.xsd``)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path
from xml.etree import ElementTree as ET

from portal.models.incident import Dispatch, Incident
from portal.models.people import Agency

NS = "urn:oasis:names:tc:emergency:cap:1.2"
SCHEMA = Path(__file__).resolve().parent / "schema" / "CAP-v1.2.xsd"
CONTENT_TYPE = "application/cap+xml; charset=utf-8"
MSG_TYPES = ("Alert", "Update", "Cancel")

# Pantau's report categories as CAP categories, and the words of <event>.
CATEGORIES = {
    "fire": ("Fire", "Kebakaran"), "accident": ("Transport", "Kecelakaan"), "brawl": ("Security", "Perkelahian"),
    "crime": ("Security", "Kejahatan"), "missing_person": ("Rescue", "Orang hilang"),
    "disaster": ("Safety", "Bencana"), "medical": ("Health", "Kedaruratan medis"),
    "city_problem": ("Infra", "Masalah kota"), "other": ("Other", "Lainnya"),
}
SEVERITY = {1: "Extreme", 2: "Severe", 3: "Moderate"}  # by the report's priority; 4 and above: Minor


def local_time(when: dt.datetime, timezone: str) -> str:
    """``2026-12-01T10:15:00+08:00``: seconds, the city's offset, never ``Z`` (CAP 1.2's dateTime pattern)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    text = when.astimezone(zoneinfo.ZoneInfo(timezone)).replace(microsecond=0).isoformat()
    return text[:-6] + "+00:00" if text.endswith("Z") else text


def _clean(text: str, limit: int) -> str:
    # XML 1.0 refuses most control characters: keep tabs and newlines, drop the rest
    return "".join(ch for ch in text if ch in "\t\n\r" or ord(ch) >= 0x20)[:limit]


def slug(city: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else " " for ch in city.lower()).split()) or "kota"


def alert_identifier(dispatch: Dispatch, city: str) -> str:
    """The CAP Alert's identifier for a dispatch: ``pantau-kota-kendari-dispatch-12``; its Updates add
    ``-update-<8 hex>`` and its Cancel ``-cancel`` (the agency area's CAP Ack finds the dispatch by
    ``-dispatch-<id>`` in ``<references>``)."""
    return f"pantau-{slug(city)}-dispatch-{dispatch.id}"


def build(msg_type: str, *, incident: Incident, dispatch: Dispatch, agency: Agency, identifier: str, sender: str,
          sent: dt.datetime, timezone: str, city: str, note: str = "", status: str | None = None) -> bytes:
    """A CAP 1.2 ``<alert>`` for one agency, as UTF-8 XML bytes."""
    if msg_type not in MSG_TYPES:
        raise ValueError(f"unknown CAP msgType {msg_type!r}")
    ET.register_namespace("", NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
        element = ET.SubElement(parent, f"{{{NS}}}{tag}")
        if text is not None:
            element.text = text
        return element

    alert = ET.Element(f"{{{NS}}}alert")
    sub(alert, "identifier", identifier)
    sub(alert, "sender", sender)
    sub(alert, "sent", local_time(sent, timezone))
    sub(alert, "status", "Actual")
    sub(alert, "msgType", msg_type)
    sub(alert, "source", f"Pantau 112 {city}")
    sub(alert, "scope", "Private")
    address = (agency.cap_address or agency.code).strip()
    sub(alert, "addresses", f'"{address}"' if " " in address else address)
    if note:
        sub(alert, "note", _clean(note, 500))
    if msg_type != "Alert":
        original = local_time(dispatch.created_at, timezone)
        sub(alert, "references", f"{sender},{alert_identifier(dispatch, city)},{original}")
    sub(alert, "incidents", incident.tracking_code)

    info = sub(alert, "info")
    sub(info, "language", "id-ID")
    category, event = CATEGORIES.get(incident.category, CATEGORIES["other"])
    sub(info, "category", category)
    sub(info, "event", event)
    sub(info, "responseType", "AllClear" if msg_type == "Cancel" else "Execute")
    sub(info, "urgency", "Past" if msg_type == "Cancel" else "Immediate")
    sub(info, "severity", SEVERITY.get(incident.priority, "Minor"))
    sub(info, "certainty", "Observed" if incident.status in ("verified", "dispatched", "resolved") else "Likely")
    sub(info, "effective", local_time(sent, timezone))
    if dispatch.sla_due_at is not None and msg_type != "Cancel":
        sub(info, "expires", local_time(dispatch.sla_due_at + dt.timedelta(hours=12), timezone))
    sub(info, "senderName", f"Command Center 112 {city}")
    sub(info, "headline", _clean(f"{event}: {incident.address or incident.district or city}", 160))
    if incident.description:
        sub(info, "description", _clean(incident.description, 4000))
    for name, value in (("dispatchId", str(dispatch.id)), ("dispatchStatus", status or dispatch.status),
                        ("agency", agency.code), ("priority", str(incident.priority))):
        parameter = sub(info, "parameter")
        sub(parameter, "valueName", name)
        sub(parameter, "value", value)
    area = sub(info, "area")
    sub(area, "areaDesc", _clean(incident.address or incident.district or city, 300))
    if incident.latitude is not None and incident.longitude is not None:
        sub(area, "circle", f"{incident.latitude:.6f},{incident.longitude:.6f} 0.1")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(alert, encoding="utf-8", xml_declaration=False)
