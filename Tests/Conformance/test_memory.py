"""`tfrewrite memory --json --pointer-bits 64` against TFLM's own arena figures.

For every fixture and corpus model TFLM's Python package can load and run,
the reference figures come from TFLM itself:
  - head, tail and total: `Interpreter.print_allocations()` (the
    RecordingMicroAllocator's report after AllocateTensors);
  - the minimum arena: a binary search for the smallest `arena_size` with
    which `Interpreter.from_file` loads and `invoke()` runs on zero inputs.
Each TFLM call runs in a forked child, so an arena that makes TFLM crash
counts as "does not run" instead of killing the test.

Run the measurement alone: python test_memory.py measure MODEL.tflite
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

SEARCH_LIMIT = 64 * 1024 * 1024

# Corpus models and fixtures whose ops tfrewrite does not size yet, with the reason; the
# test expects them to fail (strict), so declaring the footprints flips them.
NOT_SIZED = {
    "audio_preprocessor_int8": "the signal library's custom ops have no declared footprint",
    # CALL_ONCE and the resource-variable ops have no declared footprint yet.
    "accumulator_resource_variable": "resource variables: CALL_ONCE, VAR_HANDLE, READ/ASSIGN_VARIABLE",
}


def _tflm_runs(model: str, arena_size: int) -> bool:
    """Whether TFLM loads and invokes the model in an arena of this size
    (in a forked child: a crash is a failure)."""
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        ok = False
        try:
            import numpy as np
            from tflite_micro.python.tflite_micro import runtime
            interpreter = runtime.Interpreter.from_file(model, arena_size=arena_size)
            index = 0
            while True:
                try:
                    detail = interpreter.get_input_details(index)
                except Exception:  # noqa: BLE001 - no more inputs
                    break
                interpreter.set_input(np.zeros(detail["shape"], dtype=detail["dtype"]), index)
                index += 1
            interpreter.invoke()
            ok = True
        except Exception:  # noqa: BLE001 - any failure means "does not run"
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def _recorded_allocations(model: str) -> dict:
    """head, tail, total from print_allocations (TFLM's MicroPrintf writes through C stdio to
    stderr; captured at the file descriptors)."""
    from tflite_micro.python.tflite_micro import runtime
    libc = ctypes.CDLL(None)
    with tempfile.TemporaryFile() as captured:
        sys.stdout.flush()
        libc.fflush(None)
        saved = [os.dup(1), os.dup(2)]
        os.dup2(captured.fileno(), 1)
        os.dup2(captured.fileno(), 2)
        try:
            interpreter = runtime.Interpreter.from_file(model, arena_size=SEARCH_LIMIT)
            interpreter.print_allocations()
        finally:
            sys.stdout.flush()
            libc.fflush(None)
            for fd, copy in zip((1, 2), saved):
                os.dup2(copy, fd)
                os.close(copy)
        captured.seek(0)
        text = captured.read().decode(errors="replace")
    figures = dict((m.group(1), int(m.group(2)))
                   for m in re.finditer(r"Arena allocation (\w+) (\d+) bytes", text))
    return {"head_bytes": figures["head"], "tail_bytes": figures["tail"], "total_bytes": figures["total"]}


def measure(model: str) -> dict:
    """TFLM's figures, or {"error": ...} when TFLM cannot run the model."""
    if not _tflm_runs(model, SEARCH_LIMIT):
        return {"error": f"TFLM cannot run it with a {SEARCH_LIMIT}-byte arena"}
    figures = _recorded_allocations(model)
    lo, hi = 1, SEARCH_LIMIT
    while lo < hi:
        mid = (lo + hi) // 2
        if _tflm_runs(model, mid):
            hi = mid
        else:
            lo = mid + 1
    figures["min_arena_bytes"] = lo
    return figures


def _reference(model: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, "measure", str(model)],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"measuring {model} with TFLM failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _models():
    params = []
    corpus = harness.corpus_models()
    if corpus is None:
        params.append(pytest.param(None, id="corpus-missing", marks=pytest.mark.skip(
            reason=f"model corpus not found at {harness.CORPUS_DIR}")))
    else:
        for p in corpus:
            marks = [pytest.mark.xfail(reason=NOT_SIZED[p.stem], strict=True)] if p.stem in NOT_SIZED else []
            params.append(pytest.param(p, id=f"corpus/{p.stem}", marks=marks))
    for p in harness.fixture_models():
        rel = p.relative_to(harness.FIXTURES_DIR).with_suffix("")
        marks = [pytest.mark.xfail(reason=NOT_SIZED[p.stem], strict=True)] if p.stem in NOT_SIZED else []
        params.append(pytest.param(p, id=f"fixtures/{rel.as_posix()}", marks=marks))
    return params


@pytest.mark.parametrize("model", _models())
def test_memory_matches_tflm(model, tfrewrite):
    pytest.importorskip("tflite_micro")
    reference = _reference(model)
    if "error" in reference:
        pytest.skip(f"{model.name}: {reference['error']}")
    proc = harness.run_tfrewrite(tfrewrite, "memory", "--json", "--pointer-bits", "64", model)
    assert proc.returncode == 0, harness.describe_process(proc)
    ours = json.loads(proc.stdout)
    keys = ("head_bytes", "tail_bytes", "total_bytes", "min_arena_bytes")
    assert {k: ours[k] for k in keys} == reference


def test_arena_limit_names_the_peak(tfrewrite):
    model = harness.FIXTURES_DIR / "micro_speech_int8.tflite"
    proc = harness.run_tfrewrite(tfrewrite, "memory", "--json", "--pointer-bits", "64", model)
    figures = json.loads(proc.stdout)
    peak = figures["ops"][figures["peak_op"]]
    limit = figures["min_arena_bytes"] - 1
    proc = harness.run_tfrewrite(tfrewrite, "check", "--arena-limit", limit, "--pointer-bits", "64", model)
    assert proc.returncode == 2, harness.describe_process(proc)
    assert f"op #{peak['index']} {peak['op']}" in proc.stderr
    assert all(name in proc.stderr for name in peak["tensors"])
    proc = harness.run_tfrewrite(tfrewrite, "check", "--arena-limit", limit + 1, "--pointer-bits", "64", model)
    assert proc.returncode in (0, 1), harness.describe_process(proc)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "measure":
        print(json.dumps(measure(sys.argv[2])))
    else:
        sys.exit("usage: test_memory.py measure MODEL.tflite")
