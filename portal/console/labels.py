"""The console's words: categories, statuses, event kinds, SLA timers and the reasons a step is refused."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from portal.incidents.lifecycle import LifecycleError

CATEGORIES = {
    "fire": _l("Fire"), "accident": _l("Traffic accident"), "brawl": _l("Brawl"), "crime": _l("Crime"),
    "missing_person": _l("Missing person"), "disaster": _l("Disaster"), "medical": _l("Medical emergency"),
    "city_problem": _l("City problem"), "other": _l("Other"),
}
STATUSES = {
    "new": _l("New"), "verified": _l("Verified"), "dispatched": _l("Dispatched"), "resolved": _l("Resolved"),
    "rejected": _l("Rejected"), "merged": _l("Merged"),
}
DISPATCH_STATUSES = {
    "pending": _l("Waiting to be sent"), "sent": _l("Sent"), "acknowledged": _l("Acknowledged"),
    "en_route": _l("En route"), "on_scene": _l("On scene"), "done": _l("Done"), "rejected": _l("Handed back"),
    "cancelled": _l("Cancelled"),
}
PRIORITIES = {1: _l("1 (most urgent)"), 2: _l("2 (urgent)"), 3: _l("3 (normal)"), 4: _l("4 (low)"),
              5: _l("5 (lowest)")}
EVENTS = {
    "received": _l("Received"), "flagged": _l("Flagged as suspicious"), "verified": _l("Verified"),
    "rejected": _l("Rejected"), "merged": _l("Merged into another report"), "priority": _l("Priority changed"),
    "evidence": _l("Snapshot saved as evidence"), "dispatched": _l("Dispatched"),
    "dispatch_status": _l("Agency update"), "escalated": _l("Escalated"), "resolved": _l("Resolved"),
    "note": _l("Note"),
}
# the reasons the reports area flags a report with (portal.reports.service.REASONS)
FLAGS = {
    "suspicious": _l("Suspicious"), "honeypot": _l("Filled the hidden field (a robot?)"),
    "too_fast": _l("Sent too fast after opening the form"), "repeat": _l("Many reports from the same sender"),
    "blocklist": _l("Sender on the blocklist"), "link": _l("Contains a link"), "no_location": _l("No location"),
}
REFUSALS: dict[str, Any] = {
    "reason_required": _l("Give the reason for rejecting this report."),
    "reason_too_long": _l("The reason is too long (at most 500 characters)."),
    "merge_self": _l("A report cannot be merged into itself."),
    "merge_into_closed": _l("The report to merge into is already closed."),
    "no_report": _l("There is no such report."),
    "priority_range": _l("Choose a priority from 1 to 5."),
    "closed": _l("This report is closed; it can no longer be changed."),
    "no_agency": _l("Choose at least one agency to dispatch to."),
    "already_dispatched": _l("The chosen agencies already hold this report."),
    "no_snapshot": _l("This camera has no snapshot yet. Try again in a few seconds."),
    "snapshot_too_large": _l("This camera's snapshot is too large to save."),
    "camera": _l("This camera cannot be used for this report."),
    "agency": _l("Choose agencies from the list."),
}
ALREADY = {
    "verified": _l("This report was already verified."),
    "dispatched": _l("This report was already dispatched."),
    "rejected": _l("This report was already rejected."),
    "merged": _l("This report was already merged into another."),
    "resolved": _l("This report is already resolved."),
}


def flag(code: str) -> str:
    return str(FLAGS.get(code, code))


def refusal(error: LifecycleError) -> str:
    """The operator's message for a refused step (a transition the status table does not allow included)."""
    if error.code in REFUSALS:
        return str(REFUSALS[error.code])
    before = str(error.params.get("before", ""))
    if before in ALREADY:
        return str(ALREADY[before])
    return str(_l("This step is not possible for a report that is %(status)s.",
                  status=str(STATUSES.get(before, before)).lower()))


def duration(seconds: float) -> str:
    """``m:ss`` or ``h:mm:ss`` (negative: ``-m:ss``), as the timers in the browser count."""
    sign = "-" if seconds < 0 else ""
    total = int(abs(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours}:{minutes:02d}:{secs:02d}" if hours else f"{sign}{minutes}:{secs:02d}"
