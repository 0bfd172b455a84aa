"""Reports from the public (issue 10): ``/lapor`` (phone-first form, installable, offline queue), ``/lacak``
(tracking code page following the report live), photos re-encoded without metadata, and the defences against
pranks and floods (per-address and per-phone limits, a honeypot, an operator-managed blocklist; suspicious
reports are flagged, never dropped).

The one way a report comes in is :func:`portal.reports.service.create_report` (Open311 uses it too).
"""
