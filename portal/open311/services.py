"""The services an Open311 client may report: the 112 incident categories, with their definitions.

Every service has metadata: one optional attribute, ``people_at_risk`` (a single value list), whose answer is
added to the report's description for the operator. Names and descriptions follow the request's language
(Bahasa Indonesia by default, ``?lang=en``).
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from portal.models.incident import INCIDENT_CATEGORIES

EMERGENCY = _l("Emergency (112)")
CITY = _l("City services")
SERVICES: dict[str, tuple[Any, Any, Any, str]] = {  # code -> name, description, group, keywords
    "fire": (_l("Fire"), _l("A fire in a building, a vehicle or land."), EMERGENCY, "fire,kebakaran,damkar"),
    "accident": (_l("Traffic accident"), _l("A road accident with people hurt or roads blocked."), EMERGENCY,
                 "accident,kecelakaan,lalu lintas"),
    "brawl": (_l("Brawl"), _l("A fight between people or groups in a public place."), EMERGENCY,
              "brawl,tawuran,perkelahian"),
    "crime": (_l("Crime"), _l("A theft, robbery, assault or other crime happening or just happened."), EMERGENCY,
              "crime,kejahatan,pencurian"),
    "missing_person": (_l("Missing person"), _l("A person, often a child or an elderly person, who is missing."),
                       EMERGENCY, "missing,orang hilang"),
    "disaster": (_l("Disaster"), _l("A flood, landslide, storm, earthquake damage or other disaster."), EMERGENCY,
                 "disaster,bencana,banjir,longsor"),
    "medical": (_l("Medical emergency"), _l("Someone who needs an ambulance or urgent medical help."), EMERGENCY,
                "medical,ambulans,darurat medis"),
    "city_problem": (_l("City problem"), _l("A fallen tree, broken street light, blocked drain or similar."), CITY,
                     "pohon tumbang,lampu jalan,drainase"),
    "other": (_l("Other"), _l("Anything else the command centre should know about."), CITY, "other,lainnya"),
}
assert set(SERVICES) == set(INCIDENT_CATEGORIES), "every incident category is an Open311 service"

PEOPLE_AT_RISK = "people_at_risk"
ATTRIBUTE_VALUES: dict[str, Any] = {"yes": _l("yes"), "no": _l("no"), "unknown": _l("not known")}


def service_list() -> list[dict[str, Any]]:
    return [{"service_code": code, "service_name": str(name), "description": str(description), "metadata": True,
             "type": "realtime", "keywords": keywords, "group": str(group)}
            for code, (name, description, group, keywords) in SERVICES.items()]


def definition(code: str) -> dict[str, Any]:
    return {
        "service_code": code,
        "attributes": [{
            "variable": True,
            "code": PEOPLE_AT_RISK,
            "datatype": "singlevaluelist",
            "required": False,
            "datatype_description": str(_l("Choose one")),
            "order": 1,
            "description": str(_l("Are people in danger or hurt?")),
            "values": [{"key": key, "name": str(name)} for key, name in ATTRIBUTE_VALUES.items()],
        }],
    }


def name_of(code: str) -> str:
    return str(SERVICES[code][0]) if code in SERVICES else code
