"""What the public and operators read about reports, in their language."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

CATEGORY = {
    "fire": _l("Fire"), "accident": _l("Traffic accident"), "brawl": _l("Fight or brawl"),
    "crime": _l("Crime (theft, robbery)"), "missing_person": _l("Missing person"),
    "disaster": _l("Disaster (flood, landslide, fallen tree)"), "medical": _l("Medical emergency"),
    "city_problem": _l("City problem (lights, roads, drains)"), "other": _l("Something else"),
}
STAGE = {
    "received": _l("Received"), "verified": _l("Verified by the command centre"),
    "dispatched": _l("Sent to the agency"), "handled": _l("Handled by the agency"), "closed": _l("Closed"),
}
STAGE_HINT = {
    "received": _l("Your report is in the command centre's queue."),
    "verified": _l("An operator checked your report, on the cameras where there are any."),
    "dispatched": _l("The agency responsible has been told to act."),
    "handled": _l("The agency reported that it has dealt with it."),
    "closed": _l("The report is closed."),
}
CLOSED_AS = {
    "resolved": _l("Finished."), "rejected": _l("Closed without action (for example, not an emergency or not "
                                                "confirmed)."),
    "merged": _l("Joined with another report about the same event; the work continues there."),
}
DISPATCH_STEP = {
    "pending": _l("being sent"), "sent": _l("sent"), "acknowledged": _l("acknowledged"), "en_route": _l("on the way"),
    "on_scene": _l("on the scene"), "done": _l("done"), "rejected": _l("handed back"), "cancelled": _l("cancelled"),
}
REASON = {
    "honeypot": _l("hidden field filled in (a robot?)"), "too_fast": _l("form sent implausibly fast"),
    "repeat": _l("several reports from the same phone or network"), "blocklist": _l("on the watch list"),
    "link": _l("contains a web link"), "no_location": _l("no map position, only an address"),
}
BLOCK_KIND = {"phone": _l("Phone number"), "address": _l("Network address (IP or range)")}
BLOCK_ACTIONS_LABEL = {"refuse": _l("Refuse their reports"), "flag": _l("Accept, but flag as suspicious")}
