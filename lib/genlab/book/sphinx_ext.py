"""A Sphinx extension of the book (``_config.yml``: ``extra_extensions``), found by ``genlab check-book``.

With Jupyter Book 1.x on Sphinx 7.4, the inline scripts that extensions add while the build starts
(sphinx-thebe's ``const THEBE_JS_URL = ...``, sphinx-togglebutton's selector) end up twice in every page;
the second ``const`` is a SyntaxError in the browser console of every page. Sphinx only drops duplicate
script *files*, so this drops repeated scripts (same file or same inline body, same attributes) when a
page is rendered.
"""

from __future__ import annotations

from typing import Any


def unique_scripts(scripts: list) -> list:
    """``scripts`` (Sphinx's ``_JavaScript`` entries, or strings) without repeats, first occurrence kept."""
    seen, unique = set(), []
    for js in scripts:
        attributes = getattr(js, "attributes", {}) or {}
        name = getattr(js, "filename", js) or ""  # an inline script's filename is None or "" (added twice, both ways)
        key = (str(name), tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    return unique


def _dedupe_scripts(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    if "script_files" in context:
        context["script_files"][:] = unique_scripts(context["script_files"])


def setup(app: Any) -> dict:
    # Early: Sphinx stops calling html-page-context handlers at the first that returns a template name. The
    # repeats are in the list from the start of the build, and the list is restored before each page.
    app.connect("html-page-context", _dedupe_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
