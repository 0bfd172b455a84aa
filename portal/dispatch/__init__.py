"""Routing and dispatch: routing rules choose agencies, each dispatch is delivered through the outbox (signed
webhook, CAP 1.2, e-mail) by the jobs process (``pantau jobs``), with retries and SLA escalation (issue 10)."""
