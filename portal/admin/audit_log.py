"""The audit log for admins: search by person, action, thing and time; CSV export of the same search."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from flask import Response, make_response, render_template, request, stream_with_context
from flask.typing import ResponseReturnValue
from sqlalchemy import Select, func, or_, select

from portal.admin.blueprint import ADMIN, bp, is_fragment, vary
from portal.auth.policy import allow
from portal.models import AuditEntry, db
from portal.models.audit import record

PER_PAGE = 50
CSV_COLUMNS = ("seq", "at", "actor", "actor_user_id", "ip", "action", "target_type", "target_id", "detail", "hash")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _time(text: str, *, end: bool = False) -> dt.datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if len(text) <= 10 and end:  # a date alone: the whole day
        value += dt.timedelta(days=1)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Query:
    person: str = ""
    action: str = ""
    target_type: str = ""
    target_id: str = ""
    since: str = ""
    until: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Query:
        def clean(key: str, limit: int = 80) -> str:
            return " ".join(str(args.get(key, "")).split())[:limit]

        return cls(person=clean("person"), action=clean("action"), target_type=clean("target_type", 40),
                   target_id=clean("target_id", 40), since=clean("since", 32), until=clean("until", 32))

    def args(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}

    def statement(self) -> Select:
        query = select(AuditEntry)
        if self.person:
            like = f"%{self.person.lower()}%"
            query = query.where(or_(func.lower(AuditEntry.actor).like(like), AuditEntry.ip == self.person))
        if self.action:
            query = query.where(AuditEntry.action.like(f"{self.action}%"))
        if self.target_type:
            query = query.where(AuditEntry.target_type == self.target_type)
        if self.target_id:
            query = query.where(AuditEntry.target_id == self.target_id)
        since, until = _time(self.since), _time(self.until, end=True)
        if since:
            query = query.where(AuditEntry.at >= since)
        if until:
            query = query.where(AuditEntry.at < until)
        return query


def search(query: Query, *, limit: int | None = PER_PAGE, offset: int = 0) -> Iterable[AuditEntry]:
    statement = query.statement().order_by(AuditEntry.seq.desc()).offset(offset)
    if limit is not None:
        return db.session.scalars(statement.limit(limit)).all()
    return db.session.scalars(statement.execution_options(yield_per=1000))


def count(query: Query) -> int:
    return db.session.scalar(select(func.count()).select_from(query.statement().subquery())) or 0


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return "" if value is None else value


def csv_row(entry: AuditEntry) -> list[object]:
    detail = json.dumps(entry.detail or {}, ensure_ascii=False, sort_keys=True)
    values = (entry.seq, entry.at.isoformat(), entry.actor, entry.actor_user_id, entry.ip, entry.action,
              entry.target_type, entry.target_id, detail, entry.hash)
    return [_cell(v) for v in values]


def _page() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


@bp.get("/audit")
@allow(*ADMIN)
def audit() -> ResponseReturnValue:
    query = Query.from_args(request.args)
    page = _page()
    total = count(query)
    entries = search(query, offset=(page - 1) * PER_PAGE)
    actions = db.session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)).all()
    context = {"query": query, "entries": entries, "page": page, "total": total,
               "pages": max(1, (total + PER_PAGE - 1) // PER_PAGE), "actions": actions}
    template = "admin/_audit_rows.html" if is_fragment() else "admin/audit.html"
    return vary(make_response(render_template(template, **context)))


@bp.get("/audit.csv")
@allow(*ADMIN)
def audit_csv() -> ResponseReturnValue:
    query = Query.from_args(request.args)
    record("audit.export", filters=query.args())
    db.session.commit()

    def rows() -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for n, entry in enumerate(search(query, limit=None)):
            writer.writerow(csv_row(entry))
            if n % 500 == 0:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M")
    response = Response(stream_with_context(rows()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="pantau-audit-{stamp}.csv"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
