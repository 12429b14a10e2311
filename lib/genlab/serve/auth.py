"""The access token: required on every request except /health when the server is given one.

Clients send ``Authorization: Bearer <token>`` (or ``X-Genlab-Token``). The page is opened once as
``/?token=<token>``; the answer sets the token as a same-site, HTTP-only cookie, so the page's own
requests carry it. A server bound to a non-loopback address must have a token
(:func:`check_bind`), so the models are never open to a network by accident.
"""

from __future__ import annotations

import hmac
import ipaddress

OPEN_PATHS = ("/health",)
LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    if not is_loopback(host) and not token:
        raise ValueError(f"--host {host} opens the server beyond this machine: give a token with --token or "
                         f"GENLAB_TOKEN (clients send 'Authorization: Bearer <token>'), or bind --host 127.0.0.1")


COOKIE = "genlab_token"


def request_token(headers, query, cookies) -> str | None:
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return headers.get("x-genlab-token") or query.get("token") or cookies.get(COOKIE)


def allowed(path: str, sent: str | None, token: str | None) -> bool:
    if token is None or path in OPEN_PATHS:
        return True
    return sent is not None and hmac.compare_digest(sent.encode(), token.encode())
