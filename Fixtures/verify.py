#!/usr/bin/env python3
"""Check the committed fixtures without TensorFlow (needs numpy, ai_edge_litert, tflite_micro).

    /work/venvs/oracle/bin/python Fixtures/verify.py

For every .tflite listed in Fixtures/manifest.json: the file's sha256 matches the manifest, it
loads in LiteRT and in TFLM, and running expected/<name>_inputs.npy reproduces
expected/<name>_litert.npy (LiteRT reference kernels, exact) and expected/<name>_tflm.npy (exact).
Exit status 1 on any mismatch.
"""

import hashlib
import json
import os
import sys

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

try:
    from tflite_micro.python.tflite_micro import runtime as tflm
except Exception:  # pragma: no cover
    tflm = None

HERE = os.path.dirname(os.path.abspath(__file__))


def run_litert(data, xs):
    it = Interpreter(model_content=data, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    out = []
    for x in xs:
        it.set_tensor(i, x)
        it.invoke()
        out.append(it.get_tensor(o).copy())
    return np.stack(out)


def run_tflm(data, xs):
    it = tflm.Interpreter.from_bytes(data, arena_size=256 * 1024)
    out = []
    for x in xs:
        it.set_input(x, 0)
        it.invoke()
        out.append(np.array(it.get_output(0)).copy())
    return np.stack(out)


def main():
    manifest = json.load(open(os.path.join(HERE, "manifest.json")))
    failures = 0
    for name, info in sorted(manifest["tflite"].items()):
        data = open(os.path.join(HERE, info["file"]), "rb").read()
        problems = []
        if hashlib.sha256(data).hexdigest() != info["sha256"]:
            problems.append("sha256 differs from manifest")
        xs = np.load(os.path.join(HERE, "expected", f"{name}_inputs.npy"))
        ref = np.load(os.path.join(HERE, "expected", f"{name}_litert.npy"))
        got = run_litert(data, xs)
        if got.dtype != ref.dtype or not np.array_equal(got, ref):
            problems.append(f"LiteRT output differs (max {np.abs(got.astype(float) - ref).max():.3g})")
        tflm_path = os.path.join(HERE, "expected", f"{name}_tflm.npy")
        if tflm is None:
            tflm_note = "tflm not installed"
        elif os.path.exists(tflm_path):
            t = run_tflm(data, xs)
            if not np.array_equal(t, np.load(tflm_path)):
                problems.append("TFLM output differs")
            tflm_note = "tflm ok"
        else:
            tflm_note = "no tflm expectation"
        status = "OK  " if not problems else "FAIL"
        failures += bool(problems)
        print(f"{status} {info['file']:36s} {' '.join(o['op'] for o in info['ops'])}  [{tflm_note}]"
              + ("".join(f"\n       - {p}" for p in problems)))
    print("all fixtures verified" if not failures else f"{failures} fixture(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
