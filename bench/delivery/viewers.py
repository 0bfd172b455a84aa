"""Simulated HLS viewers: one asyncio task per viewer, fetching a live playlist and its segments as hls.js does.

Each viewer keeps one HTTP/1.1 keep-alive connection, loads the playlist, starts three segments from the live
edge, fetches every segment it has not fetched yet, and reloads the playlist as the shipped player's EdgeLoader does
(shortly before the next segment is due, then every 100 ms until it is there, about two playlist loads a second;
see ``viewer``), not hls.js's default of one target duration after a load. The HTTP client is a few lines over
asyncio streams, so the client costs little CPU next to the server it measures; bodies are read and dropped.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field


@dataclass
class Tally:
    playlists: int = 0
    segments: int = 0
    segment_bytes: int = 0
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    def add(self, other: Tally) -> None:
        self.playlists += other.playlists
        self.segments += other.segments
        self.segment_bytes += other.segment_bytes
        self.errors += other.errors
        for status, count in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + count


AGENT = "bench-delivery"  # the User-Agent of a crowd not given its own


class Connection:
    def __init__(self, host: str, port: int, source: str | None = None, agent: str = AGENT) -> None:
        self.host, self.port, self.source, self.agent = host, port, source, agent
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, bytes]:
        for attempt in (0, 1):  # a keep-alive connection the server closed: reconnect once
            if self.writer is None:
                local = (self.source, 0) if self.source else None
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port, local_addr=local,
                                                                         limit=1 << 20)
            assert self.reader is not None and self.writer is not None
            try:
                self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\nUser-Agent: {self.agent}\r\n"
                                  "Accept: */*\r\n\r\n".encode())
                head = await self.reader.readuntil(b"\r\n\r\n")
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt:
                    raise
                continue
            lines = head.split(b"\r\n")
            status = int(lines[0].split()[1])
            length, close = 0, False
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            body = await self.reader.readexactly(length) if length else b""
            if close:
                await self.close()
            return status, body
        raise ConnectionError("unreachable")  # pragma: no cover

    async def close(self) -> None:
        writer, self.writer, self.reader = self.writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass


def parse_playlist(text: str) -> tuple[float, int, list[str]]:
    """(target duration, media sequence, segment names) of a live media playlist."""
    target, sequence, names = 1.0, 0, []
    for line in text.splitlines():
        if line.startswith("#EXT-X-TARGETDURATION:"):
            target = float(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            sequence = int(line.split(":", 1)[1])
        elif line and not line.startswith("#"):
            names.append(line.strip())
    return target, sequence, names


EDGE_LEAD_S, EDGE_POLL_S, EDGE_BLOCK_TARGETS = 0.15, 0.1, 1.5  # as static/js/player.js's EdgeLoader


async def viewer(host: str, port: int, playlist: str, until: float, tally: Tally, *, source: str | None = None,
                 start_delay: float = 0.0, agent: str = AGENT) -> None:
    await asyncio.sleep(start_delay)
    base = playlist.rsplit("/", 1)[0] + "/"
    conn = Connection(host, port, source, agent)
    fetched: set[str] = set()
    first = True
    edge_at = time.monotonic()
    try:
        while time.monotonic() < until:
            loaded = time.monotonic()
            try:
                status, body = await conn.get(playlist)
            except (ConnectionError, OSError, asyncio.IncompleteReadError):
                tally.errors += 1
                await asyncio.sleep(0.5)
                continue
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
            if status != 200:
                await asyncio.sleep(1.0)
                continue
            tally.playlists += 1
            target, _sequence, names = parse_playlist(body.decode(errors="replace"))
            if first:
                names = names[-3:]  # hls.js starts about three target durations from the live edge
                first = False
            new = [n for n in names if n not in fetched]
            for name in new:
                if time.monotonic() >= until:
                    break
                fetched.add(name)
                try:
                    status, data = await conn.get(base + name if not name.startswith("/") else name)
                except (ConnectionError, OSError, asyncio.IncompleteReadError):
                    tally.errors += 1
                    continue
                tally.statuses[status] = tally.statuses.get(status, 0) + 1
                if status == 200:
                    tally.segments += 1
                    tally.segment_bytes += len(data)
            if len(fetched) > 64:
                fetched = set(names)
            # The shipped player's EdgeLoader (static/js/player.js): after a new segment, ask again shortly before
            # the next is due (EDGE_LEAD_MS 150), then every EDGE_POLL_MS (100) until it is there, for at most
            # 1.5 target durations; after that, hls.js's own half-target polling.
            now = time.monotonic()
            if new:
                edge_at = now
                wait_until = loaded + target - EDGE_LEAD_S
            elif now - edge_at < EDGE_BLOCK_TARGETS * target:
                wait_until = now + EDGE_POLL_S
            else:
                wait_until = loaded + target / 2
            await asyncio.sleep(max(0.0, wait_until - time.monotonic()))
    finally:
        await conn.close()


async def _crowd(host: str, port: int, playlists: list[str], viewers: int, seconds: float,
                 sources: list[str], agent: str = AGENT) -> Tally:
    until = time.monotonic() + seconds
    tallies = [Tally() for _ in range(viewers)]
    rng = random.Random(viewers)
    tasks = [
        viewer(host, port, playlists[i % len(playlists)], until, tallies[i], source=sources[i % len(sources)],
               start_delay=rng.uniform(0, 1.0), agent=agent)
        for i in range(viewers)
    ]
    await asyncio.gather(*tasks)
    total = Tally()
    for tally in tallies:
        total.add(tally)
    return total


async def _crowds(host: str, groups: list[tuple[int, list[str], int]], seconds: float,
                  agents: list[str]) -> list[Tally]:
    return list(await asyncio.gather(*(_crowd(host, port, playlists, viewers, seconds, ["127.0.0.1"], agent)
                                       for (port, playlists, viewers), agent in zip(groups, agents, strict=True))))


def crowds(host: str, groups: list[tuple[int, list[str], int]], seconds: float,
           agents: list[str] | None = None) -> list[Tally]:
    """Several crowds at once, one per (port, playlists, viewers), in one event loop over the same seconds: the
    servers they measure share the machine's conditions (a busy neighbour slows them all alike). Each crowd's
    requests carry its own User-Agent (``agents``), which nginx passes on in its access checks: the portal's
    access log then says which crowd each check came from."""
    return asyncio.run(_crowds(host, groups, seconds, agents or [AGENT] * len(groups)))


def crowd(host: str, port: int, playlists: list[str], viewers: int, seconds: float,
          sources: list[str] | None = None) -> Tally:
    """``viewers`` viewers spread over ``playlists`` for ``seconds``; what they were served."""
    return asyncio.run(_crowd(host, port, playlists, viewers, seconds, sources or ["127.0.0.1"]))
