"""`genlab check-book` on a hand-written book: it reports each kind of breakage a reader would see, and
nothing on a clean page (the real smoke book is checked in tests/test_notebooks.py)."""

from __future__ import annotations

import pytest

from genlab import cli
from genlab.book.check import BrowserMissing, check_book, find_chromium

CLEAN = """<!doctype html><html><head><meta charset="utf-8"><title>ok</title></head><body>
<p>Math that MathJax would have rendered is absent here; a link <a href="index.html#top">back</a>.</p>
<div style="overflow-x: auto; max-width: 100%"><table><tr><td style="min-width: 3000px">a wide table that
scrolls inside its own box</td></tr></table></div>
<pre style="overflow-x: auto">{code}</pre>
<p>Code shown as code keeps its dollars: <code>echo $$</code>, and so does a hidden element:</p>
<div style="display: none">$$ hidden $$</div>
</body></html>""".format(code="x = 1  # " + "long comment " * 300)

BROKEN = """<!doctype html><html><head><meta charset="utf-8"><title>broken</title></head><body>
<p id="top">The loss is $$L = \\|\\epsilon - \\epsilon_\\theta\\|^2$$ here.</p>
<img src="_images/missing.png" alt="gone">
<a href="chapters/nowhere.html">a chapter that was never built</a>
<a href="ok.html">fine</a> <a href="https://example.org/elsewhere">another site</a> <a href="#top">anchor</a>
<div style="width: 2500px">a figure wider than the window</div>
<script>throw new Error("kaput in the page's script");</script>
</body></html>"""


@pytest.fixture
def book(tmp_path):
    try:
        find_chromium()
    except BrowserMissing as exc:
        pytest.skip(str(exc))
    html = tmp_path / "html"
    (html / "_static").mkdir(parents=True)
    (html / "index.html").write_text(BROKEN)
    (html / "ok.html").write_text(CLEAN)
    (html / "_static" / "asset.html").write_text(BROKEN)  # an asset folder: not a page of the book
    return html


def test_each_kind_of_breakage_is_reported_and_clean_pages_pass(book, tmp_path):
    problems = check_book(book, profile_dir=tmp_path / "chromium", printer=lambda *_: None)
    assert {p.page for p in problems} == {"index.html"}, [str(p) for p in problems]
    by_kind: dict[str, list[str]] = {}
    for p in problems:
        by_kind.setdefault(p.kind, []).append(p.detail)
    assert set(by_kind) == {"image", "link", "math", "width", "console"}, [str(p) for p in problems]
    assert by_kind["image"] == ["image _images/missing.png does not load"]
    assert by_kind["link"] == ["link to /chapters/nowhere.html leads nowhere"]  # not ok.html, #top, another site
    assert len(by_kind["math"]) == 1 and "$$L" in by_kind["math"][0]
    assert len(by_kind["width"]) == 1 and "in a 1280 px window (widest: div)" in by_kind["width"][0]
    # the script's exception, and the browser's own 404 line for the missing image
    console = sorted(by_kind["console"], key=lambda line: "404" in line)
    assert len(console) == 2 and "kaput" in console[0] and "404" in console[1]


def test_cli_lists_page_and_problem_and_exits_1(book, capsys):
    assert cli.main(["check-book", "--build-dir", str(book)]) == 1
    err = capsys.readouterr().err
    assert "index.html: image: image _images/missing.png does not load" in err
    assert "6 problem(s)" in err


def test_cli_without_a_built_book_says_how_to_build_it(tmp_path, capsys):
    assert cli.main(["check-book", "--build-dir", str(tmp_path)]) == 1
    assert "build the book first (make book)" in capsys.readouterr().err
