"""tfrewrite from Python: a thin layer over the `tfrewrite` binary this wheel installs.

    import tfrewrite
    fixed = tfrewrite.convert("model.tflite", rules="micro_speech")        # -> bytes
    int8 = tfrewrite.convert("model.pb", quantize="int8", calibration=samples)  # numpy array
    report = tfrewrite.check(fixed, rules="micro")                          # check --json
    arena = tfrewrite.memory(fixed)                                         # memory --json

Every function runs the binary once (models and results go through a temporary folder) and
raises `TfrewriteError` carrying the binary's one-line message and its exit code when it fails.
Docs/cli.md describes the flags, the JSON schemas and the exit codes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sysconfig
import tempfile
import warnings
from pathlib import Path
from typing import Any, Iterable, Optional, Union

__all__ = ["convert", "check", "memory", "find_tfrewrite_bin", "TfrewriteError", "__version__"]

try:  # the wheel's METADATA, which scripts/build-wheel.py takes from Sources/Support/Version.swift
    from importlib.metadata import version as _dist_version
    __version__ = _dist_version("tfrewrite")
except Exception:  # noqa: BLE001 (imported from a source tree, not installed)
    __version__ = "unknown"

Model = Union[str, os.PathLike, bytes, bytearray, memoryview]

_EXE = "tfrewrite" + (sysconfig.get_config_var("EXE") or "")
_ERROR_PREFIX = "tfrewrite: error: "
# Warnings are "tfrewrite: warning: ..."; the quantization report's are "warning: ...".
_WARNING_PREFIXES = ("tfrewrite: warning: ", "warning: ")


class TfrewriteError(Exception):
    """The binary failed: `message` is its one-line error (without the `tfrewrite: error: `
    prefix), `exit_code` its exit status (2 bad input or usage, 1 a check found problems),
    `stderr` everything it wrote to stderr."""

    def __init__(self, message: str, exit_code: int, stderr: str = ""):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.stderr = stderr

    def __str__(self) -> str:
        return f"{self.message} (exit {self.exit_code})"


def find_tfrewrite_bin() -> str:
    """The path of the `tfrewrite` binary the wheel installed (its scripts data lands in the
    environment's scripts folder, the user scheme's, or `bin` beside the package root under
    `pip install --target`)."""
    candidates = [Path(sysconfig.get_path("scripts")) / _EXE]
    try:
        user_scheme = sysconfig.get_preferred_scheme("user")  # Python 3.10+
    except AttributeError:
        user_scheme = "posix_user"
    try:
        candidates.append(Path(sysconfig.get_path("scripts", scheme=user_scheme)) / _EXE)
    except KeyError:
        pass
    candidates.append(Path(__file__).resolve().parent.parent / "bin" / _EXE)
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    raise FileNotFoundError(
        "tfrewrite binary not found; looked in " + ", ".join(str(p) for p in candidates))


def convert(model: Model, rules: Union[None, str, Iterable[str]] = None,
            quantize: Optional[str] = None, calibration: Any = None, **options: Any) -> bytes:
    """Converts or repairs `model` (a path to a .tflite, frozen GraphDef .pb or SavedModel
    folder, or the bytes of a .tflite or .pb) and returns the resulting .tflite bytes.

    `rules`: a built-in profile name or rules file, or several. `quantize`: "int8".
    `calibration`: a path (.npy, .npz, folder, "random:N"), a numpy array (samples on axis 0),
    or a dict of input name -> array (written as an .npz). Other keyword arguments become
    flags: `input_arrays=["Mfcc:1,49,10"]` -> `--input-arrays Mfcc:1,49,10`,
    `allow_unsupported=True` -> `--allow-unsupported`, `percentile=99.99` -> `--percentile 99.99`.
    """
    with tempfile.TemporaryDirectory(prefix="tfrewrite-") as tmp:
        work = Path(tmp)
        args = [_model_path(model, work)]
        out = work / "out.tflite"
        args += ["-o", str(out)]
        args += _rules_flags(rules)
        if quantize is not None:
            args += ["--quantize", str(quantize)]
        if calibration is not None:
            args += ["--calibration", _calibration_path(calibration, work)]
        args += _flags(options)
        _run(["convert", *args])
        return out.read_bytes()


def check(model: Model, rules: Union[None, str, Iterable[str]] = None, **options: Any) -> dict:
    """`tfrewrite check MODEL --json` (findings for the rules' TFLM target; default rules:
    micro) as a dict. Findings are not an error: see `clean`, `errors`, `findings`.
    `arena_limit=BYTES` raises TfrewriteError (exit 2) when the arena does not fit."""
    with tempfile.TemporaryDirectory(prefix="tfrewrite-") as tmp:
        args = [_model_path(model, Path(tmp)), *_rules_flags(rules), *_flags(options)]
        return json.loads(_run(["check", *args, "--json"], ok_codes=(0, 1)))


def memory(model: Model, **options: Any) -> dict:
    """`tfrewrite memory MODEL --json` (the TFLM tensor arena: head, tail, minimum
    arena_size, per-op timeline) as a dict; `pointer_bits=64` sizes for a 64-bit build."""
    with tempfile.TemporaryDirectory(prefix="tfrewrite-") as tmp:
        args = [_model_path(model, Path(tmp)), *_flags(options)]
        return json.loads(_run(["memory", *args, "--json"]))


def _run(args: list, ok_codes: tuple = (0,)) -> str:
    proc = subprocess.run([find_tfrewrite_bin(), *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    stderr = proc.stderr.decode("utf-8", "replace")
    for line in stderr.splitlines():
        for prefix in _WARNING_PREFIXES:
            if line.startswith(prefix):
                warnings.warn(line[len(prefix):], RuntimeWarning, stacklevel=3)
                break
    if proc.returncode not in ok_codes:
        errors = [l for l in stderr.splitlines() if l.startswith(_ERROR_PREFIX)]
        message = errors[-1][len(_ERROR_PREFIX):] if errors else (
            stderr.strip().splitlines()[-1] if stderr.strip() else
            f"tfrewrite {args[0]} exited with {proc.returncode}")
        raise TfrewriteError(message, proc.returncode, stderr)
    return proc.stdout.decode("utf-8")


def _model_path(model: Model, work: Path) -> str:
    if isinstance(model, (bytes, bytearray, memoryview)):
        data = bytes(model)
        # A .tflite FlatBuffer carries the file identifier "TFL3" at bytes 4..8 (schema.fbs:
        # file_identifier "TFL3"); anything else is handed over as a frozen GraphDef.
        path = work / ("model.tflite" if data[4:8] == b"TFL3" else "model.pb")
        path.write_bytes(data)
        return str(path)
    return os.fspath(model)


def _calibration_path(calibration: Any, work: Path) -> str:
    if isinstance(calibration, (str, os.PathLike)):
        return os.fspath(calibration)
    import numpy  # only needed for in-memory calibration data
    if isinstance(calibration, dict):
        path = work / "calibration.npz"
        numpy.savez(path, **{name: numpy.asarray(a) for name, a in calibration.items()})
    else:
        path = work / "calibration.npy"
        numpy.save(path, numpy.asarray(calibration))
    return str(path)


def _rules_flags(rules: Union[None, str, Iterable[str]]) -> list:
    if rules is None:
        return []
    names = [rules] if isinstance(rules, (str, os.PathLike)) else list(rules)
    return [arg for name in names for arg in ("--rules", os.fspath(name))]


def _flags(options: dict) -> list:
    """keyword=value -> --keyword value (underscores become dashes); True -> the bare flag;
    False/None -> nothing; a list or tuple -> the flag once per item."""
    args = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            args.append(flag)
        elif isinstance(value, (list, tuple)):
            for item in value:
                args += [flag, os.fspath(item) if isinstance(item, os.PathLike) else str(item)]
        else:
            args += [flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)]
    return args
