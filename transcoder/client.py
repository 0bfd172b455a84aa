"""The worker's side of the worker API (``docs/worker-api.md``): one JSON POST, standard library only."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from contract import worker_api
from transcoder.redact import redact


class SyncError(RuntimeError):
    """A sync that did not happen; its message is safe to log (no token, no camera credentials). ``status`` is
    the portal's HTTP status when it answered (401/403: it refuses this worker), None when it was unreachable."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class PortalClient:
    def __init__(self, base_url: str, credential: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = credential  # this worker's own (``pantau workers add``): the portal knows who it is
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"PortalClient({self.base_url!r})"

    def sync(self, body: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(body, separators=(",", ":")).encode()
        request = urllib.request.Request(
            f"{self.base_url}{worker_api.SYNC_PATH}", data=data, method="POST",
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json",
                     "User-Agent": "pantau-transcoder/1"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (http/https only)
                payload = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = ""
            try:
                detail = json.loads(exc.read()).get("error", "")
            except (ValueError, AttributeError, OSError):
                pass
            raise SyncError(f"portal answered {exc.code} {detail}".strip(), status=exc.code) from None
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SyncError(redact(f"portal unreachable: {reason}", (self._token,))) from None
        except ValueError:
            raise SyncError("portal answered something that is not JSON") from None
        if not isinstance(payload, dict) or payload.get("api_version") != worker_api.API_VERSION:
            raise SyncError("portal answered with an unknown API version")
        return payload
