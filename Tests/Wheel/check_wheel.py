"""The Python API of an installed tfrewrite wheel, run by scripts/test-wheel.sh with the fresh
venv's python (no pytest there): each result must equal what the CLI gave for the same request.

    python check_wheel.py REPO WORK VERSION

WORK holds the CLI's results: cli.tflite, memory.json, and cli_int8.tflite when numpy was
installable (else the numpy checks are skipped, saying so).
"""

import json
import os
import subprocess
import sys
import sysconfig
import warnings
from pathlib import Path

import tfrewrite

repo, work, version = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
fixture = repo / "Fixtures" / "micro_speech_int8.tflite"
cli = (work / "cli.tflite").read_bytes()
passed = []


def ok(what):
    passed.append(what)
    print(f"  ok: {what}")


assert tfrewrite.__version__ == version, tfrewrite.__version__
binary = tfrewrite.find_tfrewrite_bin()
assert Path(binary).parent == Path(sysconfig.get_path("scripts")), binary
ok(f"tfrewrite.__version__ {version}; binary {binary}")

assert tfrewrite.convert(str(fixture), rules="micro_speech") == cli
assert tfrewrite.convert(fixture, rules=["micro_speech"]) == cli
assert tfrewrite.convert(fixture.read_bytes(), rules="micro_speech") == cli
ok(f"convert(path | Path | bytes, rules='micro_speech') == the CLI's {len(cli)} bytes")

report = tfrewrite.check(cli, rules="micro_speech")
assert report["clean"] is True and report["findings"] == [], report
report = tfrewrite.check(fixture, rules="micro_speech")
assert report["clean"] is False and report["findings"][0]["op"] == "CONV_2D", report
assert report["findings"][0]["fix_pass"] == "conv-to-depthwise", report
ok("check(): clean after the repair; before it one CONV_2D finding fixed by conv-to-depthwise")

assert tfrewrite.memory(cli) == json.loads((work / "memory.json").read_text())
ok("memory() == memory --json")

try:
    tfrewrite.convert(b"not a model at all", rules="micro")
    raise AssertionError("convert of garbage did not raise")
except tfrewrite.TfrewriteError as e:
    assert e.exit_code == 2 and "\n" not in e.message and e.message, (e.exit_code, e.message)
    ok(f"garbage -> TfrewriteError exit 2: {e.message}")
try:
    tfrewrite.check(cli, rules="micro_speech", arena_limit=1000)
    raise AssertionError("check over the arena limit did not raise")
except tfrewrite.TfrewriteError as e:
    assert e.exit_code == 2 and "over --arena-limit 1000" in e.message, (e.exit_code, e.message)
    ok("check(arena_limit=1000) -> TfrewriteError exit 2 (over --arena-limit)")

version_line = subprocess.run([sys.executable, "-m", "tfrewrite", "--version"], check=True,
                              capture_output=True, text=True).stdout.strip()
assert version_line == version, version_line
ok("python -m tfrewrite --version")

if (work / "cli_int8.tflite").is_file():
    import numpy

    expected = (work / "cli_int8.tflite").read_bytes()
    float_model = repo / "Fixtures" / "micro_speech_float.tflite"
    calib_path = repo / "Fixtures" / "calib" / "micro_speech_calib.npy"
    samples = numpy.load(calib_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert tfrewrite.convert(float_model, quantize="int8", calibration=samples) == expected
    assert any("only 16 calibration samples" in str(w.message) for w in caught), [str(w.message) for w in caught]
    assert tfrewrite.convert(float_model, quantize="int8", calibration=str(calib_path)) == expected
    ok(f"convert(quantize='int8', calibration=numpy array {samples.shape} | path) == the CLI's {len(expected)} bytes; "
       "the 16-sample warning arrives as a RuntimeWarning")
else:
    print("  SKIP: quantize with a numpy calibration array (numpy could not be installed)")

print(f"check_wheel: {len(passed)} checks passed")
