"""SHA-256 of recorded segments, computed ahead of an export and kept on disk.

An export's manifest lists the SHA-256 of every source segment. Hashing them while the police wait costs the
export about a fifth of its time, yet the worker knows long before: asking for footage puts a legal hold on it at
once, and the approval comes later. So when the worker is given a hold list (or a held segment is finished), it
hashes the held segments on disk in the background, at low priority, and keeps each digest in
``recordings/.sha256.json`` with what identifies the file's content on this disk: size, modification and change
times (nanoseconds) and inode. An export takes the stored digest only while all four still match (any write or
rename changes the change time, which no program can set back), and hashes the file itself otherwise. The
manifest's content does not change: it is the SHA-256 of every source segment, however it was computed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger("pantau.transcoder")
FILE_VERSION = 1
READ_BYTES = 1 << 20

Key = tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode


def _key(info: os.stat_result) -> Key:
    return info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino


def sha256_file(path: Path) -> tuple[str, int, Key]:
    """SHA-256 and size of a file, and the key of the content that was read (``hashlib.file_digest`` releases
    the GIL while hashing). A file that changed while it was read gives a key that will not match it again."""
    with path.open("rb") as handle:
        before = os.fstat(handle.fileno())
        digest = hashlib.file_digest(handle, "sha256")
        size = handle.tell()
        after = os.fstat(handle.fileno())
    key = _key(after) if _key(before) == _key(after) else (-1, 0, 0, 0)
    return digest.hexdigest(), size, key


class Digests:
    """The stored digests of a media root's recorded segments (paths relative to it)."""

    def __init__(self, media_root: Path) -> None:
        self.media_root = media_root
        self.file = media_root / "recordings" / ".sha256.json"
        self._lock = threading.Lock()
        self._fill_lock = threading.Lock()
        self._save_lock = threading.Lock()
        self._entries: dict[str, tuple[Key, str]] = self._load()
        self.hashed_total = 0
        self.hashed_bytes = 0

    def _load(self) -> dict[str, tuple[Key, str]]:
        try:
            data = json.loads(self.file.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("version") != FILE_VERSION:
            return {}
        entries: dict[str, tuple[Key, str]] = {}
        for path, item in (data.get("files") or {}).items():
            if isinstance(item, list) and len(item) == 5 and all(isinstance(v, int) for v in item[:4]) \
                    and isinstance(item[4], str) and len(item[4]) == 64:
                entries[path] = ((item[0], item[1], item[2], item[3]), item[4])
        return entries

    def save(self) -> None:
        """Write the digests of files still on disk (atomically); those of deleted files are dropped."""
        with self._lock:
            for path in [p for p in self._entries if not (self.media_root / p).is_file()]:
                del self._entries[path]
            data = {"version": FILE_VERSION,
                    "files": {p: [*key, digest] for p, (key, digest) in sorted(self._entries.items())}}
        try:
            with self._save_lock:  # the hold's filler and an export may save at once
                self.file.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.file.with_suffix(".tmp")
                tmp.write_text(json.dumps(data))
                os.replace(tmp, self.file)
        except OSError as exc:
            log.warning("could not keep the segments' digests on disk: %s", exc.strerror or exc)

    def known(self, path: str) -> tuple[str, int] | None:
        """The stored SHA-256 and size of ``path`` while the file is unchanged since it was hashed, else None."""
        with self._lock:
            entry = self._entries.get(path)
        if entry is None:
            return None
        try:
            info = os.stat(self.media_root / path)
        except OSError:
            return None
        key, digest = entry
        return (digest, key[0]) if _key(info) == key else None

    def digest(self, path: str) -> tuple[str, int]:
        """SHA-256 and size of ``path``: stored when still valid, else computed now (and stored)."""
        found = self.known(path)
        if found is not None:
            return found
        digest, size, key = sha256_file(self.media_root / path)
        with self._lock:
            self._entries[path] = (key, digest)
            self.hashed_total += 1
            self.hashed_bytes += size
        return digest, size

    def fill(self, paths: Iterable[str]) -> int:
        """Hash the files among ``paths`` whose digest is not stored (one fill at a time); returns how many."""
        with self._fill_lock:
            count = 0
            for path in paths:
                if self.known(path) is not None:
                    continue
                try:
                    self.digest(path)
                except OSError:  # deleted meanwhile (not held any more), or unreadable: the export will say
                    continue
                count += 1
                if count % 50 == 0:  # a long fill keeps what it did
                    self.save()
            if count:
                self.save()
            return count


def lower_priority() -> None:
    """Run the calling thread at the lowest CPU priority (Linux: niceness is per thread), so hashing ahead never
    slows a camera's ffmpeg; a no-op where that is not possible."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass
