"""Load and invoke many models on one TFLM interpreter build in few child processes.

`oracle.run` starts one child per model. The older tflite-micro wheels import TensorFlow on
start (their flatbuffer_utils.py reads its gfile), 10-30 s each, so for them the measured-profile
test uses this instead: one child loads and invokes every model in turn, and is restarted after
the model that crashed it. As in oracle.py, the arena grows until the model loads, and each
model runs twice on seeded random inputs.

    verdicts(python, [paths]) -> {path: None (ran) | "failure text"}
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime
ARENAS = [256 * 1024, 1 << 20, 4 << 20, 16 << 20, 64 << 20]

def run(path):
    data = open(path, "rb").read()
    last = None
    for size in ARENAS:
        try:
            it = runtime.Interpreter.from_bytes(data, arena_size=size)
            break
        except Exception as e:
            last = f"cannot load: {type(e).__name__}: {e}"
    else:
        return last
    rng = np.random.default_rng(1)
    details = []
    while True:
        try:
            details.append(it.get_input_details(len(details)))
        except Exception:
            break
    try:
        for _ in range(2):
            for k, d in enumerate(details):
                dtype = np.dtype(d["dtype"])
                shape = [int(x) for x in d["shape"]]
                if dtype == np.bool_:
                    a = rng.integers(0, 2, shape).astype(dtype)
                elif np.issubdtype(dtype, np.integer):
                    info = np.iinfo(dtype)
                    a = rng.integers(max(info.min, -128), min(info.max, 127) + 1, shape).astype(dtype)
                else:
                    a = rng.standard_normal(shape).astype(dtype)
                it.set_input(a, k)
            it.invoke()
    except Exception as e:
        return f"invoke failed: {type(e).__name__}: {e}"
    return None

for line in sys.stdin:
    path = line.strip()
    print(json.dumps({"path": path, "failure": run(path)}), flush=True)
"""


def verdicts(python, paths, timeout=3600) -> dict:
    results = {}
    pending = [str(p) for p in paths]
    while pending:
        proc = subprocess.run([python or sys.executable, "-c", CHILD], input="\n".join(pending) + "\n",
                              capture_output=True, text=True, timeout=timeout)
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                r = json.loads(line)
                results[r["path"]] = r["failure"]
        pending = [p for p in pending if p not in results]
        if pending:
            results[pending[0]] = f"crashed (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1:] }"
            pending = pending[1:]
    return {Path(p): v for p, v in results.items()}
