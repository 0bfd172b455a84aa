"""112 incidents: the core every 112 area shares (issue 10).

- ``events.record_event``: the append-only event log of a report (every step, with its time and actor);
- ``codes.new_tracking_code``: the code a reporter follows their report with;
- ``geo``: distances and the city's area (a point outside it is refused);
- ``stages``: the public progress of a report (received, verified, dispatched, handled, closed).

The areas built on it: ``portal.reports`` (the public's reports, ``/lapor``, ``/lacak``), ``portal.open311``,
``portal.console`` (operators), ``portal.dispatch`` (routing, outbox, delivery, escalation, ``pantau jobs``),
``portal.agency`` (agencies' own page and callback) and ``portal.stats`` (planning figures).
"""
