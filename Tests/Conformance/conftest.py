"""pytest fixtures for the conformance tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402


def pytest_report_header(config):
    tf = harness.tfrewrite_path()
    corpus = harness.CORPUS_DIR
    versions = []
    for dist in ("ai-edge-litert", "tflite-micro", "numpy"):
        try:
            from importlib.metadata import version
            versions.append(f"{dist} {version(dist)}")
        except Exception:  # noqa: BLE001
            versions.append(f"{dist} (not installed)")
    return [
        f"tfrewrite: {tf}" + ("" if tf.is_file() else "  (MISSING)"),
        f"corpus: {corpus}" + ("" if corpus.is_dir() else "  (MISSING: corpus tests skip)"),
        "oracles: " + ", ".join(versions),
    ]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return harness.REPO_ROOT


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not harness.CORPUS_DIR.is_dir():
        pytest.skip(f"model corpus not found at {harness.CORPUS_DIR}")
    return harness.CORPUS_DIR


@pytest.fixture(scope="session")
def tfrewrite() -> Path:
    path = harness.tfrewrite_path()
    if not path.is_file():
        pytest.skip(f"tfrewrite binary not found at {path} "
                    "(run `swift build` or set TFREWRITE=/path/to/tfrewrite)")
    return path


@pytest.fixture(scope="session")
def work_dir(tmp_path_factory) -> Path:
    """A session-wide scratch folder for rewritten models and oracle files."""
    return tmp_path_factory.mktemp("conformance")


class Rewrites:
    """Runs `tfrewrite M -o OUT` once per (model, tag) and `inspect --json`
    once per file, for the whole session."""

    def __init__(self, tfrewrite: Path, work_dir: Path):
        self.tfrewrite = tfrewrite
        self.work_dir = work_dir
        self._rewrites = {}
        self._inspects = {}

    def rewrite(self, model: Path, tag: str = "rewritten"):
        """Returns (CompletedProcess, output path)."""
        key = (str(model), tag)
        if key not in self._rewrites:
            out_dir = self.work_dir / tag / f"{len(self._rewrites):03d}"
            out_dir.mkdir(parents=True, exist_ok=True)
            out = out_dir / Path(model).name
            proc = harness.run_tfrewrite(self.tfrewrite, model, "-o", out)
            self._rewrites[key] = (proc, out)
        return self._rewrites[key]

    def rewritten_ok(self, model: Path, tag: str = "rewritten") -> Path:
        """The rewritten file, or fail the test if the rewrite failed."""
        proc, out = self.rewrite(model, tag)
        if proc.returncode != 0:
            pytest.fail("rewrite failed: " + harness.describe_process(proc), pytrace=False)
        if not out.is_file() or out.stat().st_size == 0:
            pytest.fail(f"rewrite exited 0 but wrote no output at {out}", pytrace=False)
        return out

    def inspect(self, path: Path) -> dict:
        key = str(path)
        if key not in self._inspects:
            try:
                self._inspects[key] = harness.inspect_json(self.tfrewrite, path)
            except harness.CLIError as e:
                self._inspects[key] = e
        result = self._inspects[key]
        if isinstance(result, Exception):
            pytest.fail(f"inspect failed: {result}", pytrace=False)
        return result


@pytest.fixture(scope="session")
def rewrites(tfrewrite, work_dir) -> Rewrites:
    return Rewrites(tfrewrite, work_dir)

