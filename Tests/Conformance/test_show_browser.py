"""`tfrewrite show` pages in a real browser (Debian's chromium, headless).

Each page must load without a script error or console message and show every op of the model
(as `inspect --json` lists them); a before/after page must mark the op a repair replaced and
point it at its partner; `convert --report` must add the pass log. Skips, visibly, when no
chromium is installed (scripts/ensure-deps.sh installs it).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import harness

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
OP = re.compile(r'<g class="node op (\w+)" id="(\w)(\d+)-op(\d+)" data-op="([^"]+)"(?: data-index="\d+")?(?: data-pair="([^"]+)")?')


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("chromium not installed (apt-get install chromium; scripts/ensure-deps.sh does)")
    return CHROMIUM


def load(browser: str, page: Path, profile: Path, screenshot: Path | None = None) -> str:
    """The page's DOM after its scripts ran; fails on any console message or script error."""
    args = [browser, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
            f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0"]
    if screenshot is not None:
        args += [f"--screenshot={screenshot}", "--window-size=1400,1000", "--hide-scrollbars"]
    else:
        args += ["--dump-dom"]
    proc = subprocess.run(args + [page.resolve().as_uri()], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"chromium exited {proc.returncode}: {proc.stderr[-2000:]}"
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, f"{page.name}: console messages: {console}"
    if screenshot is not None:
        return ""
    dom = proc.stdout
    assert 'data-ready="1"' in dom, f"{page.name}: the page script did not finish"
    errors = re.findall(r'<pre id="errors"[^>]*>(.*?)</pre>', dom, re.S)
    assert 'data-errors="0"' in dom, f"{page.name}: script errors: {errors}"
    return dom


def ops_of(tfrewrite, model: Path) -> list[list[str]]:
    proc = harness.run_tfrewrite(tfrewrite, "inspect", model, "--json")
    assert proc.returncode == 0, harness.describe_process(proc)
    return [[op["op"] if op["custom_code"] is None else op["custom_code"] for op in s["operators"]]
            for s in json.loads(proc.stdout)["subgraphs"]]


def drawn(dom: str, side: str) -> dict[int, dict[int, tuple[str, str, str | None]]]:
    """subgraph → op index → (op, status, partner id) for one side (m, a or b)."""
    out: dict[int, dict[int, tuple[str, str, str | None]]] = {}
    for status, s, sub, index, op, pair in OP.findall(dom):
        if s == side:
            out.setdefault(int(sub), {})[int(index)] = (op, status, pair or None)
    return out


def assert_every_op(dom: str, side: str, expected: list[list[str]], what: str):
    shown = drawn(dom, side)
    for s, ops in enumerate(expected):
        got = shown.get(s, {})
        assert sorted(got) == list(range(len(ops))), f"{what} subgraph {s}: drew ops {sorted(got)}, model has {len(ops)}"
        for i, name in enumerate(ops):
            assert got[i][0] == name, f"{what} subgraph {s} op {i}: drew {got[i][0]}, model has {name}"


MODELS = harness.fixture_models() + sorted((harness.FIXTURES_DIR / "graphdef").glob("*.pb"))


@pytest.mark.parametrize("model", MODELS, ids=lambda p: p.name)
def test_show_page_loads_and_lists_every_op(browser, tfrewrite, tmp_path, model):
    page = tmp_path / "graph.html"
    proc = harness.run_tfrewrite(tfrewrite, "show", model, "-o", page, "-q")
    assert proc.returncode == 0, harness.describe_process(proc)
    dom = load(browser, page, tmp_path / "profile")
    assert_every_op(dom, "m", ops_of(tfrewrite, model), model.name)


def test_before_after_marks_the_replaced_convolution(browser, tfrewrite, tmp_path):
    before = harness.FIXTURES_DIR / "micro_speech_float.tflite"
    after = tmp_path / "repaired.tflite"
    report = tmp_path / "report.html"
    proc = harness.run_tfrewrite(tfrewrite, before, "--rules", "micro", "-o", after, "--report", report, "-q")
    assert proc.returncode == 0, harness.describe_process(proc)
    page = tmp_path / "diff.html"
    proc = harness.run_tfrewrite(tfrewrite, "show", before, after, "-o", page, "-q")
    assert proc.returncode == 0, harness.describe_process(proc)

    for path in (page, report):
        dom = load(browser, path, tmp_path / "profile")
        assert_every_op(dom, "a", ops_of(tfrewrite, before), f"{path.name} before")
        assert_every_op(dom, "b", ops_of(tfrewrite, after), f"{path.name} after")
        a, b = drawn(dom, "a")[0], drawn(dom, "b")[0]
        conv = [(i, pair) for i, (op, status, pair) in a.items() if op == "CONV_2D"]
        assert conv, "the float model has a CONV_2D"
        for i, pair in conv:
            assert a[i][1] == "changed", f"CONV_2D #{i} is not marked changed"
            assert pair is not None and pair.startswith("b0-op"), f"CONV_2D #{i} has no partner"
            partner = b[int(pair.removeprefix("b0-op"))]
            assert partner[0] == "DEPTHWISE_CONV_2D" and partner[1] == "changed", f"CONV_2D #{i} paired with {partner}"
    assert 'id="passes"' in dom and "conv-to-depthwise" in dom, "the report has the pass log"


def test_screenshots_render(browser, tfrewrite, tmp_path):
    """A screenshot of a page and of a standalone SVG: something drawn, not a blank page."""
    model = harness.FIXTURES_DIR / "micro_speech_float.tflite"
    for name in ("graph.html", "graph.svg"):
        out = tmp_path / name
        proc = harness.run_tfrewrite(tfrewrite, "show", model, "-o", out, "-q")
        assert proc.returncode == 0, harness.describe_process(proc)
        png = tmp_path / (name + ".png")
        load(browser, out, tmp_path / "profile", screenshot=png)
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, f"{name}: screenshot of {len(data)} bytes"
