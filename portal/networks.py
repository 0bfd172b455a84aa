"""Who may reach the machine endpoints (``/metrics``, the worker API): configured networks, by client address.

The client address is the one the trusted proxies vouch for (``PANTAU_PROXY_COUNT``, applied by werkzeug's
ProxyFix in ``portal.security``), never a header a client could set on its own.
"""

from __future__ import annotations

import functools
import ipaddress

from flask import request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.cache
def parse(spec: str) -> tuple[Network, ...]:
    """``"127.0.0.0/8, ::1"`` -> networks; raises ValueError naming the bad entry."""
    found: list[Network] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            found.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"not a network: {part[:60]!r}") from None
    return tuple(found)


def address_in(address: str | None, allowed: tuple[Network, ...]) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in allowed)


def client_in(allowed: tuple[Network, ...] | None) -> bool:
    """Is this request's client in one of ``allowed``? ``None`` means no restriction."""
    return True if allowed is None else address_in(request.remote_addr, allowed)
