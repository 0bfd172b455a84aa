"""The soak's figures from what was observed: pure functions, so the arithmetic is tested without a stack.

- availability: each camera's live playlist, sampled through nginx every second, counts as available at a
  sample when nginx answered 200 and the playlist's newest segment changed within ``stale_after_s``; only
  samples taken while the camera's source was up count (the time after a camera comes back, until live video
  returns, counts against it);
- recording gaps: holes in each camera's recording index longer than the source outages inside them plus an
  allowance;
- nginx's access log: 5xx answers, by what was asked;
- holds: held segments that disappeared;
- reports: sent against delivered.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Span = tuple[float, float]


@dataclass(frozen=True)
class Sample:
    t: float  # wall clock (seconds since the epoch)
    status: int | None  # HTTP status, None when the request failed or timed out
    newest: str | None  # identity of the newest segment in the playlist (its URI), None when unreadable


def newest_segment(playlist: str) -> str | None:
    """The URI of the last segment of an HLS media playlist (None when there is none)."""
    last = None
    for line in playlist.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            last = line
    return last


def _inside(t: float, spans: Sequence[Span]) -> bool:
    return any(a <= t < b for a, b in spans)


def camera_availability(samples: Sequence[Sample], outages: Sequence[Span], start: float, end: float,
                        stale_after_s: float) -> dict[str, Any]:
    """Availability of one camera over [start, end) against the time its source was up.

    A sample is *available* when it was answered 200 and the newest segment changed at most ``stale_after_s``
    before it (the first answered sample in the window counts as a change). Returns the counts, the ratio and
    the stretches of unavailability (start, end, seconds) while the source was up.
    """
    last_change: float | None = None
    previous: str | None = None
    counted = available = 0
    stretches: list[list[float]] = []
    reasons: list[Counter[str]] = []
    for s in sorted(samples, key=lambda x: x.t):
        if s.status == 200 and s.newest is not None and s.newest != previous:
            last_change, previous = s.t, s.newest
        if not (start <= s.t < end) or _inside(s.t, outages):
            continue
        counted += 1
        ok = s.status == 200 and last_change is not None and s.t - last_change <= stale_after_s
        if ok:
            available += 1
            continue
        if stretches and s.t - stretches[-1][1] <= 2.5:
            stretches[-1][1] = s.t
        else:
            stretches.append([s.t, s.t])
            reasons.append(Counter())
        reasons[-1]["stale" if s.status == 200 else str(s.status) if s.status else "no_answer"] += 1
    ratio = available / counted if counted else None
    return {"samples_source_up": counted, "samples_available": available,
            "availability": round(ratio, 5) if ratio is not None else None,
            "unavailable": [(round(a, 1), round(b, 1), round(b - a + 1, 1)) for a, b in stretches],
            # why each stretch's samples failed: "stale" (answered, no new segment), an HTTP status, "no_answer"
            "why": [dict(r) for r in reasons]}


def recoveries(samples: Sequence[Sample], outages: Sequence[Span], limit_s: float = 120.0) -> list[float | None]:
    """For each outage, seconds from the source coming back to the first answered sample whose newest segment
    is new since the end of the outage (None: not within ``limit_s``)."""
    ordered = sorted(samples, key=lambda x: x.t)
    found: list[float | None] = []
    for _, back in outages:
        before = None
        for s in ordered:
            if s.t < back and s.status == 200 and s.newest is not None:
                before = s.newest
        recovered = next((s.t - back for s in ordered if back <= s.t <= back + limit_s and s.status == 200
                          and s.newest is not None and s.newest != before), None)
        found.append(round(recovered, 1) if recovered is not None else None)
    return found


def recording_gaps(segments: Iterable[tuple[float, float]], outages: Sequence[Span], start: float, end: float,
                   allowance_s: float = 5.0) -> list[dict[str, float]]:
    """Holes in one camera's recording within [start, end) longer than the source outage inside them plus
    ``allowance_s``. ``segments`` are (start, end) wall-clock seconds, in any order, possibly overlapping (two
    workers may both record a camera for a moment). The edges count: footage must cover the window."""
    merged: list[list[float]] = []
    for a, b in sorted(segments):
        if b < start or a > end:
            continue
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    holes: list[Span] = []
    cursor = start
    for a, b in merged:
        if a > cursor:
            holes.append((cursor, a))
        cursor = max(cursor, b)
    if cursor < end:
        holes.append((cursor, end))
    gaps = []
    for a, b in holes:
        covered = sum(max(0.0, min(b, ob) - max(a, oa)) for oa, ob in outages)
        excess = (b - a) - covered
        if excess > allowance_s:
            gaps.append({"start": round(a, 1), "end": round(b, 1), "seconds": round(b - a, 1),
                         "outage_s": round(covered, 1), "excess_s": round(excess, 1)})
    return gaps


LOG_LINE = re.compile(r'^\S+ \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+)[^"]*" (?P<status>\d{3}) ')


def access_entries(text: str) -> list[tuple[float, str, str, int]]:
    """(wall clock, method, path, status) of each line of an nginx access log in the ``combined`` format."""
    entries = []
    for line in text.splitlines():
        m = LOG_LINE.match(line)
        if not m:
            continue
        when = dt.datetime.strptime(m["time"], "%d/%b/%Y:%H:%M:%S %z").timestamp()
        entries.append((when, m["method"], m["path"], int(m["status"])))
    return entries


def request_class(path: str) -> str:
    if path.startswith("/api/worker/"):
        return "worker_api"
    if path.startswith("/media/"):
        return "media"
    return "portal"


def server_errors(entries: Iterable[tuple[float, str, str, int]], start: float, end: float,
                  windows: Mapping[str, Sequence[Span]] | None = None) -> dict[str, Any]:
    """5xx answers in [start, end], counted by class of request and by the fault window they fell in."""
    by_class: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    by_window: Counter[str] = Counter()
    total = requests = 0
    each: list[dict[str, Any]] = []
    for when, method, path, status in entries:
        if not (start <= when <= end):
            continue
        requests += 1
        if status < 500:
            continue
        total += 1
        by_class[request_class(path)] += 1
        by_status[str(status)] += 1
        hit = [name for name, spans in (windows or {}).items() if any(a <= when <= b for a, b in spans)]
        by_window["+".join(sorted(hit)) if hit else "outside_faults"] += 1
        if len(each) < 500:
            each.append({"at_s": round(when - start, 1), "status": status, "method": method, "url": path[:120],
                         "during": sorted(hit)})
    return {"requests": requests, "total": total, "by_class": dict(by_class), "by_status": dict(by_status),
            "by_fault_window": dict(by_window), "each": each}


def held_deleted(held: Iterable[str], present: Iterable[str]) -> list[str]:
    """Held segment paths (seen on disk or in the index while held) that are no longer on disk."""
    here = set(present)
    return sorted(p for p in set(held) if p not in here)


def report_outcome(sent: Iterable[str], delivered: Iterable[str]) -> dict[str, int]:
    """``sent``: ids of accepted reports; ``delivered``: one id per delivery received (repeats are duplicates)."""
    sent_set = set(sent)
    counts = Counter(delivered)
    return {"sent": len(sent_set), "delivered": sum(1 for i in sent_set if counts.get(i)),
            "lost": sum(1 for i in sent_set if not counts.get(i)),
            "delivered_twice": sum(1 for i, n in counts.items() if n > 1),
            "unknown_delivered": sum(1 for i in counts if i not in sent_set)}


def summary(values: Sequence[float]) -> dict[str, float | None]:
    """min, p50, mean of a list of figures (None when empty)."""
    if not values:
        return {"min": None, "p50": None, "mean": None}
    ordered = sorted(values)
    return {"min": round(ordered[0], 5), "p50": round(ordered[len(ordered) // 2], 5),
            "mean": round(sum(ordered) / len(ordered), 5)}
