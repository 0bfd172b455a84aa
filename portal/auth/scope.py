"""Agency users see only their own agency's things: one rule for every query and every single-row check.

    query = scoped(select(Dispatch), Dispatch.agency_id)      # all rows for staff, own agency's for agency/police
    if not may_see(dispatch.agency_id): abort(404)           # a row fetched by id

Admins, operators and leadership see everything; agency staff and police (when their account has an agency)
see the rows of their agency; an agency account without an agency sees nothing.
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask_login import current_user
from sqlalchemy import Select, false

SCOPED_ROLES = ("agency", "police")
S = TypeVar("S", bound=Select)  # type: ignore[type-arg]


def own_agency_id() -> int | None:
    """The agency the current user is limited to, or None when they are not limited."""
    if not current_user.is_authenticated or current_user.role not in SCOPED_ROLES:
        return None
    return current_user.agency_id or -1  # -1: limited, to no agency at all


def scoped(query: S, agency_column: Any) -> S:
    agency_id = own_agency_id()
    if agency_id is None:
        return query
    if agency_id < 0:
        return query.where(false())
    return query.where(agency_column == agency_id)


def may_see(agency_id: int | None) -> bool:
    limited = own_agency_id()
    return limited is None or (agency_id is not None and agency_id == limited)
