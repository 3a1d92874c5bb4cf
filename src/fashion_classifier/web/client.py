"""The address of the client that sent the current request, as nginx saw it."""

from __future__ import annotations

import ipaddress

from flask import request


def client_address() -> str | None:
    """The sender's IP address: the peer's, or nginx's X-Forwarded-For when nginx is the peer.

    `serve` puts nginx before the app on a Unix socket (web/nginx.py), so the peer has no IP
    address and X-Forwarded-For holds the one nginx saw ($remote_addr, replacing whatever the
    client sent: the address nginx limits connections by). A peer with an IP address reached
    the app directly (the development server, a test client): its header could be made up.
    """
    peer = _address(request.remote_addr or "")
    if peer is not None:
        return peer
    forwarded = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
    return _address(forwarded) or forwarded or None


def _address(text: str) -> str | None:
    """The address in its one canonical spelling (IPv6 has many); None if `text` is none."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None
