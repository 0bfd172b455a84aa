"""Credential redaction (contract.redaction), shared by both planes: masks every credential-like part of a URL
or a line of text, is idempotent, and runs in linear time on any input."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.redaction import SECRET_PARAMS, redact_text, redact_url, url_secrets

# Secrets with a marker that appears nowhere else, from the characters a URL carries unescaped.
SECRET = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$*+,", min_size=4,
                 max_size=40).map(lambda s: "Zq9" + s)
USER = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
SCHEME = st.sampled_from(["rtsp", "rtsps", "http", "https"])
PARAM = st.sampled_from(SECRET_PARAMS).flatmap(lambda p: st.sampled_from([p, p.upper(), p.capitalize()]))
NOISE = st.text(max_size=200)


@settings(max_examples=300, deadline=None)
@given(SCHEME, USER, SECRET, PARAM, SECRET, NOISE, NOISE)
def test_user_info_and_secret_parameters_are_masked(scheme: str, user: str, password: str, param: str, value: str,
                                                     before: str, after: str) -> None:
    url = f"{scheme}://{user}:{password}@127.0.0.1:8554/stream1?channel=1&{param}={value}&subtype=0"
    for shown in (redact_url(url), redact_text(f"{before} {url} {after}"),
                  redact_text(f"{before}{url}\n{after}", url_secrets(url))):
        assert password not in shown and value not in shown
    assert redact_url(url).startswith(f"{scheme}://***@127.0.0.1:8554/stream1?channel=1&")
    decoded = f"failed to open {scheme}://{user}:{quote(password)}@127.0.0.1/ (user {user}, {password}, {value})"
    cleaned = redact_text(decoded, url_secrets(url))
    assert password not in cleaned and value not in cleaned


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_redaction_is_idempotent_and_never_fails(text: str) -> None:
    once = redact_text(text)
    assert redact_text(once) == once
    redact_url(text)


def _repeat(unit: str) -> Callable[[int], str]:
    return lambda n: (unit * (n // len(unit) + 1))[:n]


ADVERSARIAL: dict[str, Callable[[int], str]] = {
    "plain": _repeat("x"),
    "scheme starts": _repeat(".a"),
    "many schemes before one authority": _repeat("a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p://" + "x" * 500 + " "),
    "userinfo everywhere": _repeat("rtsp://a:b@"),
    "at signs": _repeat("a://" + "@" * 10),
    "secret names": _repeat("password="),
    "long secret values": _repeat("token=" + "x" * 5000 + "&"),
    "error text": _repeat("Opening rtsp://admin:pw@127.0.0.1/?access_token=x&key=y failed\n"),
}


def _best_of(runs: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        began = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - began)
    return best


@pytest.mark.parametrize("shape", list(ADVERSARIAL))
def test_redaction_runs_in_linear_time(shape: str) -> None:
    """1 MB is 16 times 64 kB: allow 40 times the time (noise, caches), where quadratic would be 256 times."""
    make = ADVERSARIAL[shape]
    small, large = make(64 * 1024), make(1024 * 1024)
    seen = []
    for _ in range(3):  # the machine is shared: a slow moment gets a second look, a quadratic cost never passes
        t_small = _best_of(3, lambda: redact_text(small))
        t_large = _best_of(2, lambda: redact_text(large))
        seen.append(f"64 kB {t_small * 1000:.1f} ms, 1 MB {t_large * 1000:.1f} ms")
        if t_large <= 40 * t_small + 0.05:
            break
    else:
        raise AssertionError(f"{shape}: not linear: {seen}")
    assert t_large < 5, f"{shape}: redacting 1 MB took {t_large:.1f} s"
