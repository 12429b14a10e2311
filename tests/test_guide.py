"""The README is the front door (short: what this is, the two commands, what is where, where to read on); the
operating notes are the book's Guide part, so check-book and jupyter-book -W check them."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_readme_is_short_and_every_guide_link_is_a_book_page():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) < 120
    assert "make book" in text and "make test" in text
    links = re.findall(r"\]\((docs/[\w-]+)\.md\)", text)
    guide = next(p for p in yaml.safe_load((ROOT / "_toc.yml").read_text())["parts"] if p["caption"] == "Guide")
    pages = [c["file"] for c in guide["chapters"]]
    assert links == pages and all((ROOT / f"{p}.md").is_file() for p in pages)
    for page in pages:
        assert (ROOT / f"{page}.md").read_text().startswith("# "), f"{page}: a book page starts with its title"
