"""The built book in a browser: every HTML page loaded in headless Chromium, as a reader would see it.

:func:`check_book` serves ``_build/html`` over a loopback HTTP server (as the book is hosted: no
``file://`` quirks) and reports, per page:

- broken images: an ``<img>`` that finished loading with ``naturalWidth`` 0;
- broken internal links: an ``href`` into the book whose file does not exist (anchors are not checked);
- JavaScript errors: SEVERE entries of the browser console (a missing favicon aside);
- unrendered math: ``$$``, ``\\(`` or ``\\[`` left in the visible text (code blocks aside) once MathJax
  has finished;
- pages wider than the viewport (1280 px): ``scrollWidth > innerWidth``, i.e. a wide table, code
  block or figure widens the page instead of scrolling inside its own box.

``python -m genlab check-book [--build-dir _build/html]`` (``make check-book``) prints one line per
problem and exits 1 if there is any. Needs Chromium and chromedriver (``apt-get install chromium
chromium-driver``) and selenium (the ``dev`` extra). The driver set-up is shared with the tests that
drive the generation page and JupyterLab.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import unquote, urlsplit

VIEWPORT = (1280, 900)
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")
INSTALL_HINT = "apt-get install -y chromium chromium-driver (.ci/run does this as root)"
# Folders of the built book that hold assets, not pages.
ASSET_DIRS = {"_static", "_sources", "_images", "_sphinx_design_static", "_panels_static"}
MATH_TIMEOUT_S = 30.0


class BrowserMissing(RuntimeError):
    """Headless Chromium, its driver or selenium is not installed."""


def find_chromium() -> tuple[Path, Path]:
    """(chromium, chromedriver) from $GENLAB_CHROMIUM / $GENLAB_CHROMEDRIVER or the PATH."""
    browser = os.environ.get("GENLAB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    driver = os.environ.get("GENLAB_CHROMEDRIVER") or shutil.which("chromedriver")
    if not (browser and driver and Path(browser).exists() and Path(driver).exists()):
        raise BrowserMissing(f"headless Chromium absent: {INSTALL_HINT}")
    return Path(browser), Path(driver)


def chromium(profile_dir: Path, window: tuple[int, int] = VIEWPORT, console: bool = False):
    """A headless Chromium selenium driver with its profile in ``profile_dir``; ``console``: keep the
    browser console (``driver.get_log("browser")``). The caller quits it."""
    browser, driver = find_chromium()
    try:
        from selenium import webdriver
    except ImportError as exc:
        raise BrowserMissing("selenium absent: pip install -e '.[dev]'") from exc
    options = webdriver.ChromeOptions()
    options.binary_location = str(browser)
    for flag in (*CHROMIUM_FLAGS, f"--window-size={window[0]},{window[1]}", f"--user-data-dir={profile_dir}"):
        options.add_argument(flag)
    if console:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    web = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=str(driver)))
    web.set_page_load_timeout(60)
    return web


@dataclass(frozen=True)
class Problem:
    page: str  # relative to the build folder
    kind: str  # image, link, console, math, width
    detail: str

    def __str__(self) -> str:
        return f"{self.page}: {self.kind}: {self.detail}"


def html_pages(build_dir: Path) -> list[Path]:
    """Every page of the built book (asset folders aside), relative to ``build_dir``."""
    build_dir = Path(build_dir)
    return sorted(p.relative_to(build_dir) for p in build_dir.rglob("*.html")
                  if not ASSET_DIRS & set(p.relative_to(build_dir).parts[:-1]))


@contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """``folder`` over HTTP on a free loopback port, in a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:  # one line per request would drown the report
        pass


# Runs in the page: waits for MathJax 3 (if the page loads it) to finish typesetting, then measures.
_MATH_READY = """
const done = arguments[arguments.length - 1];
if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
  MathJax.startup.promise.then(() => done(true), () => done(false));
} else if (document.querySelector('script[src*="mathjax"], script[src*="MathJax"]')) {
  done(null);  // MathJax is on its way but not started yet: ask again
} else { done(true); }
"""
_MEASURE = """
// Visible prose only: code shown verbatim (pre, code) may hold TeX delimiters on purpose.
const texts = [];
if (document.body) {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {acceptNode: n => {
    const e = n.parentElement;
    return !e || e.closest('pre, code, script, style, textarea, mjx-container') || !e.checkVisibility()
      ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT; }});
  while (walker.nextNode()) texts.push(walker.currentNode.textContent);
}
const visible = texts.join(String.fromCharCode(10));  // one line per text node
const images = Array.from(document.images).filter(i => i.complete && i.naturalWidth === 0)
  .map(i => i.getAttribute('src'));
const links = Array.from(document.querySelectorAll('a[href]')).map(a => a.href);
const wide = Array.from(document.querySelectorAll('body *')).filter(e => {
  const r = e.getBoundingClientRect();
  return r.right > window.innerWidth + 1 && r.width > 0 && getComputedStyle(e).position !== 'fixed';
}).slice(0, 3).map(e => e.tagName.toLowerCase() + (e.className && typeof e.className === 'string'
  ? '.' + e.className.trim().split(/\\s+/).join('.') : ''));
return {visible: visible, images: images, links: links, wide: wide,
        scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth};
"""
RAW_MATH = ("$$", "\\(", "\\[")


def check_page(driver, base_url: str, build_dir: Path, page: Path) -> list[Problem]:
    """Load one page and list what is broken on it."""
    name = page.as_posix()
    driver.get(f"{base_url}/{name}")
    ready, deadline = None, time.monotonic() + MATH_TIMEOUT_S
    while ready is None and time.monotonic() < deadline:
        ready = driver.execute_async_script(_MATH_READY)
        if ready is None:
            time.sleep(0.1)
    problems = []
    if not ready:
        problems.append(Problem(name, "math", f"MathJax did not finish typesetting within {MATH_TIMEOUT_S:g} s"))
    m = driver.execute_script(_MEASURE)
    problems += [Problem(name, "image", f"image {src} does not load") for src in m["images"]]
    for href in m["links"]:
        target = _local_file(href, base_url, build_dir)
        if target is not None and not target.exists():
            problems.append(Problem(name, "link", f"link to {unquote(urlsplit(href).path)} leads nowhere"))
    for line in m["visible"].splitlines():
        if any(raw in line for raw in RAW_MATH):
            problems.append(Problem(name, "math", f"raw TeX in the text: {line.strip()[:80]!r}"))
    if m["scrollWidth"] > m["innerWidth"]:
        culprits = ", ".join(m["wide"]) or "unknown element"
        problems.append(Problem(name, "width", f"page is {m['scrollWidth']} px wide in a {m['innerWidth']} px "
                                               f"window (widest: {culprits})"))
    for entry in driver.get_log("browser"):
        if entry.get("level") == "SEVERE" and "favicon.ico" not in entry.get("message", ""):
            problems.append(Problem(name, "console", entry["message"][:300]))
    return problems


def _local_file(href: str, base_url: str, build_dir: Path) -> Path | None:
    """The file an ``href`` into the book points at (directories: their index.html); None for others."""
    if not href.startswith(base_url + "/"):
        return None  # another site, mailto:, javascript: ...
    path = unquote(urlsplit(href).path).lstrip("/")
    target = build_dir / path
    return target / "index.html" if target.is_dir() else target


def check_book(build_dir: str | Path = "_build/html", profile_dir: Path | None = None,
               printer=print) -> list[Problem]:
    """Every page of the book at ``build_dir`` in headless Chromium; the problems found (empty: all well)."""
    import tempfile
    build_dir = Path(build_dir).resolve()
    if not (build_dir / "index.html").is_file():
        raise FileNotFoundError(f"--build-dir {build_dir}: no index.html; build the book first (make book), "
                                f"or point --build-dir at a folder of HTML pages")
    pages = html_pages(build_dir)
    problems: list[Problem] = []
    with tempfile.TemporaryDirectory(prefix="genlab-chromium-") as tmp, serve_folder(build_dir) as url:
        driver = chromium(profile_dir or Path(tmp), console=True)
        try:
            for page in pages:
                found = check_page(driver, url, build_dir, page)
                printer(f"{'ok  ' if not found else 'FAIL'} {page.as_posix()}")
                problems += found
        finally:
            driver.quit()
    return problems
