"""The vendored front-end libraries (CodeMirror 6, Chart.js 4) and the scripts that use them.

The files are built by tools/vendor/*/build.sh; these tests check what is committed: it is there,
licensed, pinned, fetches nothing from the network, and works in Chromium (editor.js, charts.js).
"""

from __future__ import annotations

import functools
import http.server
from concurrent.futures import ThreadPoolExecutor
import json
import re
import threading
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from tests.browser.conftest import CHROMIUM

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "src" / "databoard" / "web" / "static"
TOOLS = ROOT / "tools" / "vendor"

CODEMIRROR = STATIC / "vendor" / "codemirror" / "codemirror.min.js"
CHART = STATIC / "vendor" / "chart" / "chart.umd.min.js"
EDITOR = STATIC / "databoard" / "editor.js"
CHARTS = STATIC / "databoard" / "charts.js"

# URLs that may appear in a vendored file without anything being fetched: XML namespace names
# (CodeMirror builds inline SVG data: URLs with xmlns="http://www.w3.org/2000/svg").
NAMESPACE_URLS = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink", "http://www.w3.org/1999/xhtml"}
URL = re.compile(r"""https?://[^\s"'`)<>]*""")


def _leading_comment(text: str) -> str:
    """The license banner: the block comment the file starts with (if any)."""
    match = re.match(r"\s*/\*.*?\*/", text, re.S)
    return match.group(0) if match else ""


def _runtime_urls(path: Path) -> list[str]:
    """Absolute URLs outside license comments (the opening banner and `/*! ... */` legal comments,
    which minifiers keep), less namespace names."""
    text = path.read_text(encoding="utf-8")
    body = re.sub(r"/\*!.*?\*/", "", text[len(_leading_comment(text)):], flags=re.S)
    return sorted({url for url in URL.findall(body) if url not in NAMESPACE_URLS})


@pytest.mark.parametrize("path", [CODEMIRROR, CHART, EDITOR, CHARTS], ids=lambda p: p.name)
def test_script_exists_is_ascii_and_names_no_remote_url(path):
    text = path.read_text(encoding="utf-8")
    assert len(text) > 1000
    assert text.isascii()  # served as text/javascript with or without a charset, it reads the same
    assert _runtime_urls(path) == []
    # Nothing that would load code or data from elsewhere, nor a source map that is not vendored.
    assert "sourceMappingURL" not in text
    assert not re.search(r"""\bimport\s*\(\s*["'`](https?:)?//""", text)
    assert not re.search(r"""importScripts\s*\(""", text)
    assert not re.search(r"""<(script|link|img|iframe)[^>]*\b(src|href)\s*=\s*["']?(https?:)?//""", text, re.I)


def test_our_scripts_fetch_nothing():
    for path in (EDITOR, CHARTS):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\b(fetch|XMLHttpRequest|import)\s*\(", text), path.name
        assert "://" not in text, path.name


def test_sizes_stay_commit_sized():
    assert CODEMIRROR.stat().st_size < 500_000
    assert CHART.stat().st_size < 300_000


@pytest.mark.parametrize("folder", ["codemirror", "chart"])
def test_licenses_are_vendored(folder):
    license_text = (STATIC / "vendor" / folder / "LICENSE").read_text(encoding="utf-8")
    assert "MIT License" in license_text and "Permission is hereby granted" in license_text
    bundled = (STATIC / "vendor" / folder / "LICENSES.txt").read_text(encoding="utf-8")
    lock = json.loads((TOOLS / folder / "package-lock.json").read_text(encoding="utf-8"))
    for key, package in lock["packages"].items():
        name = key.removeprefix("node_modules/")
        if not key or package.get("dev") or package.get("optional"):
            continue  # the project itself, esbuild and its platform binaries
        # Every runtime package of the lock file is in the bundle, so its license must be listed.
        assert f"{name}@{package['version']} (MIT)" in bundled, name
    assert bundled.count("Permission is hereby granted") >= 2


@pytest.mark.parametrize("folder", ["codemirror", "chart"])
def test_versions_are_pinned_exactly(folder):
    manifest = json.loads((TOOLS / folder / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((TOOLS / folder / "package-lock.json").read_text(encoding="utf-8"))
    pins = {**manifest.get("dependencies", {}), **manifest.get("devDependencies", {})}
    assert pins
    for name, version in pins.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} {version} is not an exact version"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
    assert (TOOLS / folder / "build.sh").exists()
    assert "node_modules/" in (TOOLS / ".gitignore").read_text(encoding="utf-8").split()


def test_chart_banner_matches_the_pin():
    pin = json.loads((TOOLS / "chart" / "package.json").read_text(encoding="utf-8"))["dependencies"]["chart.js"]
    assert f"Chart.js v{pin}" in _leading_comment(CHART.read_text(encoding="utf-8"))


# --- In Chromium -----------------------------------------------------------------------------------

CODE = "import numpy as np\n\n\nclass Classifier:\n    def fit(self, X, y):\n        return self\n"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vendored</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/databoard/databoard.css">
<script src="/static/vendor/codemirror/codemirror.min.js" defer></script>
<script src="/static/databoard/editor.js" defer></script>
<script src="/static/vendor/chart/chart.umd.min.js" defer></script>
<script src="/static/databoard/charts.js" defer></script>
</head><body><main>
<form method="post" action="/submit">
  <label for="id_code">Code</label>
  <textarea id="id_code" name="code" data-editor="python">__CODE__</textarea>
  <button type="submit">Send</button>
</form>
<textarea id="old" data-editor="python" data-readonly aria-label="Submitted code">x = 1</textarea>
<pre id="shown" data-code="python">def f():
    return 42
</pre>
<canvas id="chart" data-chart="score-over-time" data-chart-data="score-data"><p id="fallback">No chart</p></canvas>
<script type="application/json" id="score-data">__DATA__</script>
</main></body></html>
"""


def _chart_data() -> dict:
    points = [{"t": f"2025-03-{1 + i // 3:02d}T{8 + i % 3 * 4:02d}:15:00+00:00", "score": 0.5 + ((i * 37) % 23) / 50,
               "team": f"team-{i % 4}", "submission": f"sub-{i}"} for i in range(30)]
    return {"score_name": "accuracy", "lower_is_better": False, "points": points}


class _Handler(http.server.SimpleHTTPRequestHandler):
    """/static/... from the package's static folder, anything else from the test's own folder."""

    def __init__(self, *args, pages: Path, **kwargs):
        self.pages = pages
        super().__init__(*args, directory=str(pages), **kwargs)

    def translate_path(self, path):
        if path.split("?")[0].startswith("/static/"):
            relative = path.split("?")[0][len("/static/"):]
            return str(STATIC / Path(*[part for part in relative.split("/") if part not in ("", ".", "..")]))
        return super().translate_path(path)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def static_server(tmp_path_factory):
    pages = tmp_path_factory.mktemp("pages")
    page = PAGE.replace("__CODE__", CODE).replace("__DATA__", json.dumps(_chart_data()))
    (pages / "vendored.html").write_text(page, encoding="utf-8")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, pages=pages))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def in_browser():
    """Runs a function in a thread of its own that drives Chromium: ``in_browser(fn, **context_options)``
    calls ``fn(page)`` there with a fresh page and returns its result (or raises its exception).

    tests/browser/conftest.py's session ``browser`` fixture is not visible from tests/web, and a
    second Playwright sync API in the same thread fails while that one runs (pytest -n shares
    workers), so this module's Chromium lives in its own thread, with its own event loop."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: run `make test` (it installs Debian's chromium).")
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vendored-chromium")
    state = {}

    def start():
        from playwright.sync_api import sync_playwright

        state["playwright"] = sync_playwright().start()
        state["browser"] = state["playwright"].chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])

    def run(fn, **options):
        context = state["browser"].new_context(viewport={"width": 1280, "height": 900}, **options)
        try:
            return fn(context.new_page())
        finally:
            context.close()

    def stop():
        state["browser"].close()
        state["playwright"].stop()

    worker.submit(start).result()
    yield lambda fn, **options: worker.submit(run, fn, **options).result()
    worker.submit(stop).result()
    worker.shutdown()


def _watch(page, origin: str) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning")
            else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("request", lambda r: problems.append(f"request off the test server: {r.url}")
            if not r.url.startswith((origin, "data:")) else None)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return problems


@pytest.mark.browser
def test_editor_and_chart_in_chromium(static_server, in_browser):
    in_browser(functools.partial(_check_editor_and_chart, origin=static_server))


def _check_editor_and_chart(page, origin):
    problems = _watch(page, origin)
    page.goto(f"{origin}/vendored.html")
    page.wait_for_selector("#id_code + .db-editor .cm-content")

    # The bundle is the pinned build.
    manifest = json.loads((TOOLS / "codemirror" / "package.json").read_text(encoding="utf-8"))
    versions = page.evaluate("DataboardCodeMirror.versions")
    assert versions and all(manifest["dependencies"][name] == version for name, version in versions.items())

    # The textarea is hidden behind an editor that shows its text, highlighted, with line numbers.
    assert page.is_hidden("#id_code")
    editor = page.locator("#id_code + .db-editor")
    assert editor.locator(".cm-lineNumbers").count() == 1
    assert editor.locator(".cm-content").get_attribute("aria-label") == "Code"
    assert editor.locator(".cm-line").first.inner_text() == "import numpy as np"
    assert editor.locator(".cm-content span[class]").count() > 3  # highlighting tokens
    assert editor.locator(".cm-editor").bounding_box()["height"] > 200  # about 16 lines at least

    # Typing goes to the textarea; Tab indents (four spaces).
    editor.locator(".cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("def g():")
    page.keyboard.press("Enter")
    page.keyboard.type("pass")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    page.keyboard.type("# tabbed")
    value = page.eval_on_selector("#id_code", "t => t.value")
    assert value == CODE + "def g():\n    pass\n        # tabbed"
    assert page.evaluate("document.activeElement.classList.contains('cm-content')")  # Tab did not move focus

    # The plain form POST carries the edited code.
    posted = []
    page.route(f"{origin}/submit", lambda route: (posted.append(route.request.post_data),
                                                           route.fulfill(status=200, body="ok")))
    page.click("button[type=submit]")
    page.wait_for_url(f"{origin}/submit")
    assert parse_qs(posted[0])["code"] == [value.replace("\n", "\r\n")]
    page.go_back()
    page.wait_for_selector("#old + .db-editor .cm-content")

    # data-readonly and <pre data-code>: highlighted viewers that cannot be edited.
    viewer = page.locator("#old + .db-editor .cm-content")
    assert viewer.get_attribute("contenteditable") == "false"
    viewer.click()
    page.keyboard.type("zzz")
    assert page.evaluate("DataboardEditor.viewFor(document.getElementById('old')).state.doc.toString()") == "x = 1"
    assert page.eval_on_selector("#old", "t => t.value") == "x = 1"
    assert page.is_hidden("#shown")
    shown = page.locator("#shown + .db-editor .cm-content")
    assert shown.get_attribute("contenteditable") == "false"
    assert shown.inner_text() == "def f():\n    return 42"

    # The chart: a Chart.js instance with every point, pixels on the canvas, a text alternative.
    page.wait_for_function("Chart.getChart(document.getElementById('chart'))")
    counts = page.evaluate("Chart.getChart(document.getElementById('chart')).data.datasets.map(d => d.data.length)")
    assert counts[1] == 30 and 1 <= counts[0] <= 31
    inked = page.evaluate("""() => {
        const c = document.getElementById('chart');
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < px.length; i += 4) { if (px[i] > 0) n++; }
        return n;
    }""")
    assert inked > 1000
    label = page.get_attribute("#chart", "aria-label")
    assert label.startswith("Chart of accuracy over time: 30 submissions") and "higher is better" in label
    assert page.get_attribute("#chart", "role") == "img"

    assert problems == []


@pytest.mark.browser
def test_without_javascript_the_plain_elements_stay(static_server, in_browser):
    in_browser(functools.partial(_check_plain_elements, origin=static_server), java_script_enabled=False)


def _check_plain_elements(page, origin):
    page.goto(f"{origin}/vendored.html")
    assert page.is_visible("#id_code")
    assert page.eval_on_selector("#id_code", "t => t.value") == CODE
    assert page.is_visible("#shown")
    assert page.locator(".cm-editor").count() == 0
    assert page.is_visible("#fallback")
