#!/usr/bin/env python3
"""Times `tfrewrite run` beside LiteRT on the same .tflite files in one run (not a timed test).

    PYTHON-WITH-LITERT scripts/bench-interpreter.py --tfrewrite BIN [--rounds R] [--repeat N] LABEL=MODEL.tflite ...

Each round runs, for every model in turn: `tfrewrite run --repeat N` (one process; the mean and
fastest inference it reports), LiteRT with XNNPACK on one thread (`num_threads=1`, the default
delegate) and LiteRT's built-in kernels (no delegate), N timed invocations each. Rounds
interleave the runtimes so that a busy machine slows them alike. Prints, per model and runtime,
the median of the per-round means, the fastest inference and the least per-round CPU time per
inference (ms; ours from the process's rusage, LiteRT's from time.process_time), and the ratio
of ours to XNNPACK's for each; a model a runtime refuses is reported as such. Inputs are seeded random data of the model's input types.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType


def random_inputs(details, rng):
    arrays = []
    for d in details:
        dtype, shape = np.dtype(d["dtype"]), tuple(d["shape"])
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            arrays.append(rng.integers(info.min, info.max + 1, shape).astype(dtype))
        else:
            arrays.append(rng.standard_normal(shape).astype(dtype))
    return arrays


def time_litert(model, arrays, repeat, resolver):
    interp = Interpreter(model_path=model, num_threads=1, experimental_op_resolver_type=resolver)
    try:
        interp.allocate_tensors()
    except RuntimeError as e:
        return str(e).splitlines()[0]
    for d, a in zip(interp.get_input_details(), arrays):
        interp.set_tensor(d["index"], a)
    interp.invoke()  # first invocation prepares the delegate: not timed
    times = []
    cpu0 = time.process_time()
    for _ in range(repeat):
        t0 = time.perf_counter()
        interp.invoke()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.mean(times), min(times), (time.process_time() - cpu0) / repeat * 1e3


def run_ours(args):
    """Exit status, stderr and CPU seconds (user + system) of one `tfrewrite run` process."""
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)
        err.seek(0)
        return os.waitstatus_to_exitcode(status), err.read().decode(errors="replace"), usage.ru_utime + usage.ru_stime


def time_ours(binary, model, inputs, repeat):
    args = [binary, "run", model]
    for path in inputs:
        args += ["--input", path]
    # CPU time per inference: a run of repeat + 1 inferences minus a run of one (loading,
    # planning and the first inference), so process start-up cancels out.
    code, _, cpu_one = run_ours(args + ["--repeat", "1"])
    code, stderr, cpu_all = run_ours(args + ["--repeat", str(repeat + 1)])
    if code != 0:
        return stderr.strip()
    # The summary line on stderr: "N inferences, X ms each on average (fastest Y ms)".
    found = re.search(r"([0-9.]+) ms each on average \(fastest ([0-9.]+) ms\)", stderr)
    if not found:
        return f"no timing in the output: {stderr.strip()}"
    return float(found.group(1)), float(found.group(2)), (cpu_all - cpu_one) / repeat * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tfrewrite", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("models", nargs="+", metavar="LABEL=MODEL")
    a = ap.parse_args()
    rng = np.random.default_rng(1)
    runtimes = [("tfrewrite run", None), ("LiteRT XNNPACK, 1 thread", OpResolverType.AUTO),
                ("LiteRT built-in kernels, 1 thread", OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)]
    with tempfile.TemporaryDirectory() as tmp:
        models = []
        for spec in a.models:
            label, path = spec.split("=", 1)
            probe = Interpreter(model_path=path)
            arrays = random_inputs(probe.get_input_details(), rng)
            files = []
            for i, arr in enumerate(arrays):
                files.append(os.path.join(tmp, f"{label}-{i}.npy"))
                np.save(files[-1], arr)
            models.append((label, path, arrays, files))
        results = {(m[0], r[0]): [] for m in models for r in runtimes}
        for _ in range(a.rounds):
            for label, path, arrays, files in models:
                for name, resolver in runtimes:
                    if resolver is None:
                        timing = time_ours(a.tfrewrite, path, files, a.repeat)
                    else:
                        timing = time_litert(path, arrays, a.repeat, resolver)
                    results[(label, name)].append(timing)
    print(f"{a.rounds} rounds × {a.repeat} inferences; ms per inference: median of round means / fastest /"
          " least CPU time per inference of a round (what a shared machine distorts least)")
    for label, *_ in models:
        summary = {}
        for name, _ in runtimes:
            runs = results[(label, name)]
            if isinstance(runs[0], str):
                print(f"  {label:<26} {name:<34} refused: {runs[0]}")
                continue
            summary[name] = (statistics.median(r[0] for r in runs), min(r[1] for r in runs), min(r[2] for r in runs))
            print(f"  {label:<26} {name:<34} {summary[name][0]:8.2f} / {summary[name][1]:8.2f} / {summary[name][2]:8.2f}")
        if "LiteRT XNNPACK, 1 thread" not in summary or "tfrewrite run" not in summary:
            continue
        ours, xnn = summary["tfrewrite run"], summary["LiteRT XNNPACK, 1 thread"]
        print(f"  {label:<26} {'ratio tfrewrite / XNNPACK':<34} {ours[0] / xnn[0]:8.2f} / {ours[1] / xnn[1]:8.2f} / {ours[2] / xnn[2]:8.2f}")


if __name__ == "__main__":
    main()
