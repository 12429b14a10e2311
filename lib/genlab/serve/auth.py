"""The access token: required on every request except /health when the server is given one.

Clients send ``Authorization: Bearer <token>`` (or ``X-Genlab-Token``). The page is opened once as
``/?token=<token>``; the answer sets the token as a same-site, HTTP-only cookie and redirects to the same
URL without it, so the page's own requests carry the cookie and the address bar holds no secret. The
access log never shows a token (:class:`HideToken`). A 401 says how to authenticate (``WWW-Authenticate``).
A server bound to a non-loopback address must have a token (:func:`check_bind`), so the models are never
open to a network by accident.
"""

from __future__ import annotations

import copy
import hmac
import ipaddress
import logging
import re
from urllib.parse import urlencode

OPEN_PATHS = ("/health",)
LOOPBACK_NAMES = ("localhost",)
COOKIE = "genlab_token"
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="genlab"'}
QUERY_TOKEN = re.compile(r"(token=)[^&\s\"]*")


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


def request_token(headers, query, cookies) -> str | None:
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return headers.get("x-genlab-token") or query.get("token") or cookies.get(COOKIE)


def allowed(path: str, sent: str | None, token: str | None) -> bool:
    if token is None or path in OPEN_PATHS:
        return True
    return sent is not None and hmac.compare_digest(sent.encode(), token.encode())


def clean_url(path: str, query) -> str:
    """``path?query`` without its token parameter (where a page opened as /?token=T is sent on)."""
    rest = [(k, v) for k, v in query.multi_items() if k != "token"]
    return path + (f"?{urlencode(rest)}" if rest else "")


class HideToken(logging.Filter):
    """Replaces ``token=<value>`` in a log record's arguments (uvicorn's access line) with ``token=***``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(QUERY_TOKEN.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = QUERY_TOKEN.sub(r"\1***", record.msg)
        return True


def log_config() -> dict:
    """uvicorn's logging configuration with :class:`HideToken` on its handlers."""
    from uvicorn.config import LOGGING_CONFIG
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["hide_token"] = {"()": f"{__name__}.HideToken"}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("hide_token")
    return config
