#!/usr/bin/env python3
"""Run .tflite models on the real runtimes and compare their outputs.

Oracles:
  litert  PyPI `ai-edge-litert` (ai_edge_litert.interpreter.Interpreter)
  tflm    PyPI `tflite-micro`   (tflite_micro.python.tflite_micro.runtime)

Every interpreter runs in a child process (`oracle.py run ...`), so a model
that crashes or hangs an interpreter becomes a reported result
("crashed: SIGSEGV", "cannot load: ...") instead of killing the caller.

Library:
  input_specs(model)                  -> [TensorSpec] of subgraph 0's inputs
  make_inputs(model, seed, count)     -> [[np.ndarray per input tensor] per run]
  run(runtime, model, inputs)         -> Outputs (a list: per run, a list of
                                         output arrays) or RunFailure
  compare_models(a, b, ...)           -> {runtime: RuntimeComparison}

CLI:
  oracle.py compare A.tflite B.tflite [--runs 100] [--seed 1] [--atol 0]
                    [--runtimes litert,tflm] [--inputs-from A|B|FILE.npz]
  oracle.py info M.tflite...          which runtime loads it, I/O, timing
  oracle.py make-inputs M.tflite --seed 1 --count 20 --out in.npz
  oracle.py run --runtime tflm --model M --inputs in.npz --out out.npz
                                      (the child; writes outputs + status)

compare exits 0 when every runtime that could run both models agrees within
--atol (0 = bit-identical), 1 on any difference (including one model loading
and the other not), 2 on usage errors or when no runtime could run either
model.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

RUNTIMES = ("litert", "tflm")

# TFLM needs a tensor arena sized per model; the child starts small and grows
# on allocation failure (x4) up to the maximum.
TFLM_ARENA_START = 256 * 1024
TFLM_ARENA_MAX = 64 * 1024 * 1024

# LiteRT op resolvers: "builtin" = optimized builtin kernels without the
# default XNNPACK delegate (deterministic, no delegate partitioning),
# "ref" = reference kernels, "auto" = what a default Interpreter uses.
LITERT_RESOLVERS = ("builtin", "ref", "auto")
DEFAULT_LITERT_RESOLVER = "builtin"

DEFAULT_TIMEOUT = 120.0  # seconds per child process

THIS_FILE = Path(__file__).resolve()


# --------------------------------------------------------------------------
# Reading the model (pure Python flatbuffer access; never crashes the caller)
# --------------------------------------------------------------------------

def _schema():
    try:
        from ai_edge_litert import schema_py_generated as schema  # type: ignore
    except ImportError:  # pragma: no cover - depends on installed packages
        try:
            from tflite_micro.tensorflow.lite.micro.python import (  # type: ignore
                schema_py_generated as schema,
            )
        except ImportError:  # the 2023 tflite-micro wheels keep it here
            from tflite_micro.tensorflow.lite.python import (  # type: ignore
                schema_py_generated as schema,
            )
    return schema


# TensorType name -> numpy dtype, for the types we can feed.
_NUMPY_DTYPES = {
    "FLOAT32": np.float32,
    "FLOAT16": np.float16,
    "FLOAT64": np.float64,
    "INT8": np.int8,
    "UINT8": np.uint8,
    "INT16": np.int16,
    "UINT16": np.uint16,
    "INT32": np.int32,
    "UINT32": np.uint32,
    "INT64": np.int64,
    "UINT64": np.uint64,
    "BOOL": np.bool_,
    "COMPLEX64": np.complex64,
    "COMPLEX128": np.complex128,
}


def _tensor_type_names():
    schema = _schema()
    names = {}
    for name, value in vars(schema.TensorType).items():
        if not name.startswith("_") and isinstance(value, int):
            names[value] = name
    return names


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    index: int          # tensor index in subgraph 0
    name: str
    type_name: str      # TFLite TensorType name, e.g. "INT8"
    shape: tuple        # concrete shape (-1 dims replaced by 1)

    @property
    def dtype(self):
        try:
            return np.dtype(_NUMPY_DTYPES[self.type_name])
        except KeyError:
            raise ValueError(
                f"input tensor {self.index} ({self.name!r}) has type "
                f"{self.type_name}, which the oracle cannot generate") from None


def _io_specs(model_path, which):
    schema = _schema()
    buf = Path(model_path).read_bytes()
    model = schema.Model.GetRootAs(buf, 0)
    if model.SubgraphsLength() < 1:
        raise ValueError("model has no subgraphs")
    sg = model.Subgraphs(0)
    names = _tensor_type_names()
    count = sg.InputsLength() if which == "inputs" else sg.OutputsLength()
    specs = []
    for k in range(count):
        t_index = sg.Inputs(k) if which == "inputs" else sg.Outputs(k)
        t = sg.Tensors(t_index)
        shape = [int(d) for d in (t.ShapeAsNumpy() if t.ShapeLength() else [])]
        if not t.ShapeSignatureIsNone() and t.ShapeSignatureLength() == len(shape):
            sig = [int(d) for d in t.ShapeSignatureAsNumpy()]
            shape = [s if s >= 0 else max(d, 1) for s, d in zip(sig, shape)]
        shape = [d if d >= 0 else 1 for d in shape]
        name = t.Name().decode("utf-8", "replace") if t.Name() else ""
        specs.append(TensorSpec(int(t_index), name,
                                names.get(t.Type(), f"TYPE_{t.Type()}"),
                                tuple(shape)))
    return specs


def input_specs(model_path) -> list:
    """Subgraph 0's input tensors as TensorSpecs (read from the flatbuffer).

    Read from the file rather than from an interpreter so that inputs can be
    made for models that one runtime cannot load. The shapes are the ones the
    interpreters report (tensor shape; -1 in shape_signature becomes 1)."""
    return _io_specs(model_path, "inputs")


def output_specs(model_path) -> list:
    return _io_specs(model_path, "outputs")


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------

def random_tensor(rng: np.random.Generator, dtype, shape) -> np.ndarray:
    """One random tensor. float: normal(0,1); int8/uint8/int16/uint16: full
    range; wider ints: small non-negative range [0, 8) (often indices or
    sizes); bool: fair coin."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if dtype.kind in "iu":
        if dtype.itemsize <= 2:
            info = np.iinfo(dtype)
            return rng.integers(int(info.min), int(info.max), size=shape,
                                endpoint=True, dtype=dtype)
        return rng.integers(0, 8, size=shape, dtype=dtype)
    raise ValueError(f"cannot generate inputs of dtype {dtype}")


def make_inputs(model_path, seed: int, count: int) -> list:
    """`count` seeded input sets for the model: a list (per run) of lists (per
    input tensor of subgraph 0, in order) of numpy arrays."""
    specs = input_specs(model_path)
    rng = np.random.default_rng(seed)
    return [[random_tensor(rng, s.dtype, s.shape) for s in specs]
            for _ in range(count)]


def save_inputs(path, inputs) -> None:
    arrays = {}
    for r, tensors in enumerate(inputs):
        for k, a in enumerate(tensors):
            arrays[f"in_{r:05d}_{k:03d}"] = np.asarray(a)
    arrays["count"] = np.array(len(inputs))
    np.savez(path, **arrays)


def load_inputs(path) -> list:
    with np.load(path, allow_pickle=False) as z:
        count = int(z["count"])
        runs = [[] for _ in range(count)]
        for key in sorted(k for k in z.files if k.startswith("in_")):
            _, r, _k = key.split("_")
            runs[int(r)].append(z[key])
    return runs


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------

class Outputs(list):
    """Outputs of a successful run: self[run][k] is output k of input set run.

    `.info` carries what the child reported (arena size, I/O details,
    timings)."""

    def __init__(self, runs, info=None):
        super().__init__(runs)
        self.info = info or {}


@dataclasses.dataclass
class RunFailure:
    """A run that produced no outputs. kind is one of "cannot load",
    "invoke failed", "bad inputs", "crashed", "timeout", "harness error"."""

    kind: str
    message: str
    log: str = ""
    info: dict = dataclasses.field(default_factory=dict)

    def __str__(self):
        return f"{self.kind}: {self.message}"

    @property
    def is_load_failure(self):
        return self.kind == "cannot load"


RunResult = Union[Outputs, RunFailure]


# --------------------------------------------------------------------------
# Parent side: run a runtime in a child process
# --------------------------------------------------------------------------

def _log_tail(text: str, lines: int = 8) -> str:
    kept = []
    for line in text.splitlines():
        line = line.strip()
        if (not line or line.startswith("INFO: Created TensorFlow Lite")
                or line.startswith("See instructions:") or line in kept):
            continue
        kept.append(line)
    return " | ".join(kept[-lines:])


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip()
                    and not part.strip().startswith("See instructions:"))


def _signal_name(rc: int) -> str:
    try:
        return signal.Signals(-rc).name
    except ValueError:
        return f"signal {-rc}"


def run(runtime: str, model_path, inputs, *, timeout: float = DEFAULT_TIMEOUT,
        arena_size: Optional[int] = None,
        litert_resolver: str = DEFAULT_LITERT_RESOLVER,
        python: Optional[str] = None, reset_state: bool = False) -> RunResult:
    """Run `inputs` (as from make_inputs) through `model_path` on `runtime`
    ("litert" or "tflm") in a child process, in order, on one interpreter
    (state of stateful models carries over from run to run, as on a device;
    with reset_state the variable tensors are reset before each run, as
    firmware does between independent windows).

    Returns Outputs (list per run of list of output arrays) or a RunFailure;
    never raises for anything the model or interpreter does."""
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; expected one of {RUNTIMES}")
    model_path = Path(model_path)
    with tempfile.TemporaryDirectory(prefix="oracle-") as tmp:
        in_path = Path(tmp) / "inputs.npz"
        out_path = Path(tmp) / "outputs.npz"
        save_inputs(in_path, inputs)
        cmd = [python or sys.executable, str(THIS_FILE), "run",
               "--runtime", runtime, "--model", str(model_path),
               "--inputs", str(in_path), "--out", str(out_path),
               "--litert-resolver", litert_resolver]
        if arena_size:
            cmd += ["--arena-size", str(arena_size)]
        if reset_state:
            cmd += ["--reset-state"]
        env = dict(os.environ)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        started = time.monotonic()
        try:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, timeout=timeout, env=env)
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode("utf-8", "replace") if e.stdout else ""
            return RunFailure("timeout", f"{runtime} did not finish within {timeout:g}s",
                              log=out)
        elapsed = time.monotonic() - started
        log = proc.stdout.decode("utf-8", "replace")
        if proc.returncode < 0:
            return RunFailure("crashed", f"{runtime} child died with {_signal_name(proc.returncode)}"
                              + (f" ({_log_tail(log, 3)})" if _log_tail(log) else ""),
                              log=log)
        if not out_path.exists():
            return RunFailure("harness error" if proc.returncode else "crashed",
                              f"{runtime} child exited {proc.returncode} without a result"
                              + (f": {_log_tail(log)}" if _log_tail(log) else ""),
                              log=log)
        with np.load(out_path, allow_pickle=False) as z:
            status = json.loads(str(z["status"]))
            status["wall_seconds"] = elapsed
            if status["kind"] != "ok":
                msg = _one_line(status["message"])
                tail = _log_tail(log)
                if tail and tail not in msg:
                    msg = f"{msg} (log: {tail})"
                return RunFailure(status["kind"], msg, log=log, info=status)
            runs = []
            for r in range(status["runs"]):
                runs.append([z[f"out_{r:05d}_{k:03d}"] for k in range(status["outputs"])])
        return Outputs(runs, status)


# --------------------------------------------------------------------------
# Child side: load an interpreter and invoke it
# --------------------------------------------------------------------------

class _LoadError(Exception):
    pass


def _details_json(d):
    q = d.get("quantization_parameters") or {}
    scales = [float(x) for x in np.asarray(q.get("scales", [])).ravel()]
    zps = [int(x) for x in np.asarray(q.get("zero_points", [])).ravel()]
    return {"name": d.get("name"), "dtype": np.dtype(d["dtype"]).name,
            "shape": [int(x) for x in np.asarray(d["shape"]).ravel()],
            "scales": scales, "zero_points": zps}


class _LiteRT:
    def __init__(self, model_path, resolver):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
        rt = {"builtin": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
              "ref": OpResolverType.BUILTIN_REF,
              "auto": OpResolverType.AUTO}[resolver]
        try:
            self.it = Interpreter(model_path=str(model_path), num_threads=1,
                                  experimental_op_resolver_type=rt)
            self.it.allocate_tensors()
        except Exception as e:  # noqa: BLE001 - any load error is a result
            raise _LoadError(f"{type(e).__name__}: {e}") from None
        self.inputs = self.it.get_input_details()
        self.outputs = self.it.get_output_details()
        self.info = {"resolver": resolver}

    def io_details(self):
        return ([_details_json(d) for d in self.inputs],
                [_details_json(d) for d in self.outputs])

    def invoke(self, tensors):
        if len(tensors) != len(self.inputs):
            raise ValueError(f"model has {len(self.inputs)} inputs, got {len(tensors)}")
        resized = False
        for d, a in zip(self.inputs, tensors):
            if tuple(d["shape"]) != a.shape:
                self.it.resize_tensor_input(d["index"], a.shape)
                resized = True
        if resized:
            self.it.allocate_tensors()
            self.inputs = self.it.get_input_details()
            self.outputs = self.it.get_output_details()
        for d, a in zip(self.inputs, tensors):
            self.it.set_tensor(d["index"], a)
        self.it.invoke()
        return [np.array(self.it.get_tensor(d["index"]), copy=True) for d in self.outputs]

    def reset(self):
        self.it.reset_all_variables()


class _TFLM:
    def __init__(self, model_path, arena_size):
        from tflite_micro.python.tflite_micro import runtime
        self.n_in = len(input_specs(model_path))
        self.n_out = len(output_specs(model_path))
        sizes = [arena_size] if arena_size else _arena_sizes()
        last = None
        for size in sizes:
            try:
                self.it = runtime.Interpreter.from_file(str(model_path), arena_size=size)
                self.info = {"arena_size": size}
                break
            except Exception as e:  # noqa: BLE001
                last = f"{type(e).__name__}: {e}"
        else:
            tried = ", ".join(_fmt_bytes(s) for s in sizes)
            raise _LoadError(f"{last} (arena sizes tried: {tried})")

    def io_details(self):
        return ([_details_json(self.it.get_input_details(k)) for k in range(self.n_in)],
                [_details_json(self.it.get_output_details(k)) for k in range(self.n_out)])

    def invoke(self, tensors):
        if len(tensors) != self.n_in:
            raise ValueError(f"model has {self.n_in} inputs, got {len(tensors)}")
        for k, a in enumerate(tensors):
            self.it.set_input(a, k)
        self.it.invoke()
        return [np.array(self.it.get_output(k), copy=True) for k in range(self.n_out)]

    def reset(self):
        self.it.reset()


def _arena_sizes():
    sizes, s = [], TFLM_ARENA_START
    while s < TFLM_ARENA_MAX:
        sizes.append(s)
        s *= 4
    sizes.append(TFLM_ARENA_MAX)
    return sizes


def _fmt_bytes(n):
    return f"{n // (1024 * 1024)} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"


def _child_run(args) -> int:
    out_path = Path(args.out)
    tmp_path = out_path.with_name(out_path.name + ".partial.npz")
    arrays = {}
    status = {"runtime": args.runtime, "model": args.model}

    def finish(kind, message=""):
        status.update(kind=kind, message=message)
        arrays["status"] = np.array(json.dumps(status))
        sys.stdout.flush()
        np.savez(tmp_path, **arrays)
        os.replace(tmp_path, out_path)  # atomic: a crash never leaves half a result
        return 0 if kind == "ok" else 3

    try:
        inputs = load_inputs(args.inputs)
    except Exception as e:  # noqa: BLE001
        return finish("bad inputs", f"cannot read inputs: {type(e).__name__}: {e}")

    t0 = time.perf_counter()
    try:
        if args.runtime == "litert":
            interp = _LiteRT(args.model, args.litert_resolver)
        else:
            interp = _TFLM(args.model, args.arena_size)
    except _LoadError as e:
        return finish("cannot load", str(e))
    except Exception as e:  # noqa: BLE001 - e.g. flatbuffer parse errors
        return finish("cannot load", f"{type(e).__name__}: {e}")
    status.update(interp.info)
    status["load_seconds"] = time.perf_counter() - t0
    try:
        ins, outs = interp.io_details()
        status["input_details"], status["output_details"] = ins, outs
    except Exception as e:  # noqa: BLE001
        status["details_error"] = f"{type(e).__name__}: {e}"

    t0 = time.perf_counter()
    n_out = None
    for r, tensors in enumerate(inputs):
        try:
            if args.reset_state:
                interp.reset()
            outs = interp.invoke(tensors)
        except Exception as e:  # noqa: BLE001
            kind = "bad inputs" if isinstance(e, ValueError) else "invoke failed"
            return finish(kind, f"run {r}: {type(e).__name__}: {e}")
        n_out = len(outs)
        for k, a in enumerate(outs):
            arrays[f"out_{r:05d}_{k:03d}"] = a
    status["invoke_seconds"] = time.perf_counter() - t0
    status["runs"] = len(inputs)
    status["outputs"] = n_out if n_out is not None else len(status.get("output_details", []))
    return finish("ok")


# --------------------------------------------------------------------------
# Comparing
# --------------------------------------------------------------------------

@dataclasses.dataclass
class OutputDiff:
    identical: bool
    max_abs_diff: float = 0.0      # inf when shapes/dtypes/counts differ
    where: str = ""                # first place of the largest difference
    mismatched_values: int = 0


def diff_outputs(a: Sequence, b: Sequence) -> OutputDiff:
    """Compare two Outputs (per run, per output). Bit-identity compares raw
    bytes (so NaN == NaN with the same payload, and -0.0 != 0.0)."""
    if len(a) != len(b):
        return OutputDiff(False, float("inf"), f"{len(a)} vs {len(b)} runs")
    worst = OutputDiff(True)
    for r, (ra, rb) in enumerate(zip(a, b)):
        if len(ra) != len(rb):
            return OutputDiff(False, float("inf"), f"run {r}: {len(ra)} vs {len(rb)} outputs")
        for k, (x, y) in enumerate(zip(ra, rb)):
            x, y = np.asarray(x), np.asarray(y)
            if x.dtype != y.dtype or x.shape != y.shape:
                return OutputDiff(False, float("inf"),
                                  f"run {r} output {k}: {x.dtype}{list(x.shape)} vs "
                                  f"{y.dtype}{list(y.shape)}")
            if x.tobytes() == y.tobytes():
                continue
            worst.identical = False
            if x.dtype.kind in "iub":
                d = np.abs(x.astype(np.int64) - y.astype(np.int64)).astype(np.float64)
            else:
                xf = x.astype(np.complex128 if x.dtype.kind == "c" else np.float64)
                yf = y.astype(xf.dtype)
                d = np.abs(xf - yf)
                nan_mismatch = np.isnan(xf) != np.isnan(yf)
                d = np.where(nan_mismatch, np.inf, np.nan_to_num(d, nan=0.0))
            same = x == y
            if x.dtype.kind in "fc":
                same |= np.isnan(x) & np.isnan(y)
            worst.mismatched_values += int(np.size(same) - np.count_nonzero(same))
            m = float(d.max()) if d.size else 0.0
            if m >= worst.max_abs_diff:
                idx = np.unravel_index(int(np.argmax(d)), d.shape) if d.ndim else ()
                worst.max_abs_diff = m
                worst.where = f"run {r} output {k} at {list(map(int, idx))}"
    return worst


@dataclasses.dataclass
class RuntimeComparison:
    runtime: str
    status: str            # "identical", "within atol", "different", "n/a"
    detail: str
    a: RunResult = None
    b: RunResult = None
    diff: Optional[OutputDiff] = None

    @property
    def failed(self):
        return self.status == "different"


def compare_results(runtime, ra: RunResult, rb: RunResult, atol: float) -> RuntimeComparison:
    fa, fb = isinstance(ra, RunFailure), isinstance(rb, RunFailure)
    if fa and fb:
        return RuntimeComparison(runtime, "n/a", f"neither runs (A {ra}; B {rb})", ra, rb)
    if fa:
        return RuntimeComparison(runtime, "different", f"A fails ({ra}) but B runs", ra, rb)
    if fb:
        return RuntimeComparison(runtime, "different", f"B fails ({rb}) but A runs", ra, rb)
    d = diff_outputs(ra, rb)
    n = f"{len(ra)} runs x {len(ra[0]) if len(ra) else 0} outputs"
    if d.identical:
        return RuntimeComparison(runtime, "identical", f"bit-identical ({n})", ra, rb, d)
    text = (f"max abs diff {d.max_abs_diff:g} ({d.where}; "
            f"{d.mismatched_values} differing values; {n})")
    status = "within atol" if d.max_abs_diff <= atol else "different"
    return RuntimeComparison(runtime, status, text, ra, rb, d)


def compare_models(a, b, *, runs=100, seed=1, atol=0.0, runtimes=RUNTIMES,
                   inputs=None, inputs_from="A", jobs=None, **run_kwargs) -> dict:
    """Run A and B on the same seeded inputs on each runtime (children in
    parallel) and compare. Returns {runtime: RuntimeComparison}."""
    if inputs is None:
        src = {"A": a, "B": b}.get(inputs_from.upper() if len(inputs_from) == 1 else "", None)
        if src is not None:
            inputs = make_inputs(src, seed, runs)
        else:
            inputs = load_inputs(inputs_from)
    jobs = jobs or max(1, min(4, os.cpu_count() or 1))
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        futs = {(rt, which): pool.submit(run, rt, m, inputs, **run_kwargs)
                for rt in runtimes for which, m in (("A", a), ("B", b))}
        results = {key: f.result() for key, f in futs.items()}
    return {rt: compare_results(rt, results[(rt, "A")], results[(rt, "B")], atol)
            for rt in runtimes}


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------

def _parse_runtimes(text):
    rts = tuple(r.strip() for r in text.split(",") if r.strip())
    bad = [r for r in rts if r not in RUNTIMES]
    if bad or not rts:
        raise argparse.ArgumentTypeError(f"runtimes must be from {','.join(RUNTIMES)}")
    return rts


def _cmd_compare(args) -> int:
    for m in (args.a, args.b):
        if not Path(m).is_file():
            print(f"error: no such model: {m}", file=sys.stderr)
            return 2
    t0 = time.monotonic()
    try:
        res = compare_models(args.a, args.b, runs=args.runs, seed=args.seed, atol=args.atol,
                             runtimes=args.runtimes, inputs_from=args.inputs_from,
                             timeout=args.timeout, litert_resolver=args.litert_resolver)
    except (OSError, ValueError) as e:
        print(f"error: cannot make inputs: {e}", file=sys.stderr)
        return 2
    elapsed = time.monotonic() - t0
    if args.json:
        print(json.dumps({rt: {"status": c.status, "detail": c.detail,
                               "max_abs_diff": c.diff.max_abs_diff if c.diff else None}
                          for rt, c in res.items()}, indent=2))
    else:
        print(f"A: {args.a}\nB: {args.b}")
        print(f"{args.runs} runs, seed {args.seed}, atol {args.atol:g}, inputs from "
              f"{args.inputs_from}  ({elapsed:.1f}s)")
        for rt, c in res.items():
            mark = {"identical": "ok", "within atol": "ok", "n/a": "--", "different": "FAIL"}[c.status]
            print(f"  {rt:7s} {mark:4s} {c.detail}")
    if any(c.failed for c in res.values()):
        return 1
    if all(c.status == "n/a" for c in res.values()):
        return 2
    return 0


def _cmd_info(args) -> int:
    rc = 0
    for m in args.models:
        print(f"== {m}")
        try:
            inputs = make_inputs(m, args.seed, args.count)
        except Exception as e:  # noqa: BLE001
            print(f"  cannot make inputs: {type(e).__name__}: {e}")
            rc = 1
            continue
        for rt in args.runtimes:
            t0 = time.monotonic()
            r = run(rt, m, inputs, timeout=args.timeout, litert_resolver=args.litert_resolver)
            wall = time.monotonic() - t0
            if isinstance(r, RunFailure):
                print(f"  {rt:7s} {r}")
                continue
            info = r.info
            extra = f", arena {_fmt_bytes(info['arena_size'])}" if "arena_size" in info else ""
            print(f"  {rt:7s} loads{extra}; {args.count} invokes in {info['invoke_seconds']*1e3:.1f} ms, "
                  f"child wall {wall:.2f}s")
            for kind in ("input", "output"):
                for k, d in enumerate(info.get(f"{kind}_details", [])):
                    q = ""
                    if d["scales"]:
                        q = f" q(scale={d['scales'][0]:.6g}, zp={d['zero_points'][0]})"
                    print(f"           {kind} {k}: {d['dtype']}{d['shape']}{q} {d['name'] or ''}")
    return rc


def _cmd_make_inputs(args) -> int:
    save_inputs(args.out, make_inputs(args.model, args.seed, args.count))
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="oracle.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    def common(sp):
        sp.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help="seconds per interpreter child (default %(default)s)")
        sp.add_argument("--litert-resolver", choices=LITERT_RESOLVERS,
                        default=DEFAULT_LITERT_RESOLVER)

    c = sub.add_parser("compare", help="compare two models' outputs on the runtimes")
    c.add_argument("a", metavar="A.tflite")
    c.add_argument("b", metavar="B.tflite")
    c.add_argument("--runs", type=int, default=100)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--atol", type=float, default=0.0,
                   help="allowed max abs difference; 0 = bit-identical (default)")
    c.add_argument("--runtimes", type=_parse_runtimes, default=RUNTIMES)
    c.add_argument("--inputs-from", default="A",
                   help="A or B: make inputs from that model's input tensors; "
                        "or an .npz written by make-inputs")
    c.add_argument("--json", action="store_true")
    common(c)

    i = sub.add_parser("info", help="which runtimes load the models; I/O; timing")
    i.add_argument("models", nargs="+")
    i.add_argument("--runtimes", type=_parse_runtimes, default=RUNTIMES)
    i.add_argument("--seed", type=int, default=1)
    i.add_argument("--count", type=int, default=20)
    common(i)

    mi = sub.add_parser("make-inputs", help="write seeded inputs to an .npz")
    mi.add_argument("model")
    mi.add_argument("--seed", type=int, default=1)
    mi.add_argument("--count", type=int, default=20)
    mi.add_argument("--out", required=True)

    r = sub.add_parser("run", help="(child) run one model on one runtime")
    r.add_argument("--runtime", choices=RUNTIMES, required=True)
    r.add_argument("--model", required=True)
    r.add_argument("--inputs", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--arena-size", type=int, default=None,
                   help="TFLM arena bytes (default: grow from 256 KB to 64 MB)")
    r.add_argument("--litert-resolver", choices=LITERT_RESOLVERS,
                   default=DEFAULT_LITERT_RESOLVER)
    r.add_argument("--reset-state", action="store_true",
                   help="reset variable tensors before each run")

    args = p.parse_args(argv)
    return {"compare": _cmd_compare, "info": _cmd_info,
            "make-inputs": _cmd_make_inputs, "run": _child_run}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
