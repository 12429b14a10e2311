"""The skip allow-list (tests/expected_skips.txt): which skipped tests are expected, and which are not."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from pathlib import Path

ALLOW_LIST = Path(__file__).resolve().parent / "expected_skips.txt"


def rules(text: str, required: set[str] = frozenset()) -> list[tuple[str, str]]:
    """``(pattern, why)`` per line of the allow-list, without the rules tagged ``[need]`` for a ``need`` in
    ``required`` (what this machine must provide, so its tests may not skip)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        pattern, bar, why = (part.strip() for part in line.partition("|"))
        if not bar or not pattern or not why:
            raise ValueError(f"{ALLOW_LIST.name}: {line!r} is not '<test id pattern> | <why>'")
        tag = re.match(r"\[(\w+)\]", why)
        if not (tag and tag.group(1) in required):
            out.append((pattern, why))
    return out


def unexpected(skipped: dict[str, str], allowed: list[tuple[str, str]]) -> dict[str, str]:
    """The skipped tests (test id -> reason) that no allowed pattern matches."""
    return {test: reason for test, reason in skipped.items()
            if not any(fnmatchcase(test, pattern) for pattern, _ in allowed)}
