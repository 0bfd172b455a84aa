"""The small helpers: require_tool's skip-or-fail rule, wait_for's deadline, free_port."""

from __future__ import annotations

import socket
import time

import pytest

from tests.support.tools import free_port, port_open, require_tool, wait_for


def test_require_tool_returns_the_path_of_a_present_tool() -> None:
    assert require_tool("sh", reason="always there").endswith("/sh")
    assert require_tool("/bin/sh", reason="always there") == "/bin/sh"


def test_missing_tool_skips_on_a_laptop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-such-tool-xyz"):
        require_tool("no-such-tool-xyz", reason="testing")


def test_missing_tool_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require_tool("/nonexistent/bin/tool", reason="testing")


def test_wait_for_returns_the_first_truthy_value() -> None:
    calls = iter([0, None, "", "done"])
    assert wait_for(lambda: next(calls), timeout=5, interval=0.01) == "done"


def test_wait_for_raises_with_the_message_and_last_error_on_timeout() -> None:
    def broken() -> bool:
        raise ValueError("still booting")

    started = time.monotonic()
    with pytest.raises(AssertionError, match="portal never came up") as info:
        wait_for(broken, timeout=0.3, interval=0.05, message="portal never came up")
    assert time.monotonic() - started < 2
    assert "still booting" in str(info.value)


def test_free_port_can_be_bound() -> None:
    port = free_port()
    assert not port_open("127.0.0.1", port)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
