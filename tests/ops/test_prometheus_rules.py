"""The alert rules in deploy/prometheus: valid for promtool, their unit tests pass, and every metric they use is
one the portal's /metrics really exposes (with the figures the rules expect)."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path

from flask.testing import FlaskClient

from portal.models import CameraStatus, Worker, db
from portal.models.incident import OutboxMessage
from tests.conftest import WorkerAuth, add_camera
from tests.support.tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "pantau.rules.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "pantau.rules.test.yml"


def test_promtool_accepts_the_rules_and_their_unit_tests_pass() -> None:
    promtool = require_tool("promtool", reason="the alert rules are checked with Prometheus's promtool")
    checked = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 8 rules found" in checked.stdout
    tested = subprocess.run([promtool, "test", "rules", str(RULE_TESTS)], capture_output=True, text=True,
                            timeout=120, cwd=RULE_TESTS.parent)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    for alert in ("PantauCameraDown", "PantauWorkerGone", "PantauDiskLow", "PantauOutboxBackingUp"):
        assert alert in RULE_TESTS.read_text(), f"{alert} has no unit test"


def _metric_names(text: str) -> set[str]:
    return set(re.findall(r"\b(pantau_[a-z_]+)", text))


def test_every_metric_in_the_rules_is_exposed_by_the_portal(client: FlaskClient, worker_auth: WorkerAuth) -> None:
    auth = worker_auth("media-1")
    worker_auth("retired")  # a worker that is later revoked: no series, so no alert forever
    up, down = add_camera(name="Up"), add_camera(name="Down")
    add_camera(name="Off", enabled=False)
    sync = {"worker": {"name": "media-1", "disk_free_bytes": 5_000, "disk_total_bytes": 100_000,
                       "disk_guard_active": False}, "cameras": []}
    assert client.post("/api/worker/v1/sync", json=sync, headers=auth).status_code == 200
    sync["cameras"] = [{"id": up.id, "status": "online"}, {"id": down.id, "status": "offline"}]
    assert client.post("/api/worker/v1/sync", json=sync, headers=auth).status_code == 200
    from portal.workers import credentials

    credentials.revoke("retired")
    waited = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=7)
    db.session.add_all([
        OutboxMessage(kind="webhook", destination="http://127.0.0.1:9/hook", payload="{}", created_at=waited),
        OutboxMessage(kind="webhook", destination="http://127.0.0.1:9/hook", payload="{}"),
        OutboxMessage(kind="webhook", destination="http://127.0.0.1:9/hook", payload="{}", status="sent"),
    ])
    db.session.commit()

    text = client.get("/metrics").get_data(as_text=True)
    exposed = _metric_names(text)
    used = _metric_names(RULES.read_text())
    assert used and used <= exposed, f"rules use metrics /metrics does not expose: {sorted(used - exposed)}"

    assert f'pantau_camera_up{{camera="{up.id}"}} 1' in text
    assert f'pantau_camera_up{{camera="{down.id}"}} 0' in text
    assert text.count("pantau_camera_up{") == 2  # enabled cameras only
    assert 'pantau_worker_up{worker="media-1"} 1' in text
    assert re.findall(r'^pantau_worker_up\{worker="([^"]+)"\}', text, re.M) == ["media-1"]  # not the revoked one
    assert 'pantau_worker_disk_total_bytes{worker="media-1"} 100000' in text
    assert 'pantau_outbox_messages{status="pending"} 2' in text
    assert 'pantau_outbox_messages{status="sent"} 1' in text
    oldest = float(re.search(r"^pantau_outbox_oldest_pending_seconds (\S+)$", text, re.M).group(1))  # type: ignore[union-attr]
    assert 7 * 60 - 5 <= oldest <= 7 * 60 + 60

    # the worker goes quiet: its cameras are down, the worker is gone
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    db.session.query(Worker).update({"last_seen_at": past})
    db.session.query(CameraStatus).update({"updated_at": past})
    db.session.commit()
    text = client.get("/metrics").get_data(as_text=True)
    assert f'pantau_camera_up{{camera="{up.id}"}} 0' in text
    assert 'pantau_worker_up{worker="media-1"} 0' in text
