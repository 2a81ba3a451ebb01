#!/usr/bin/env python3
"""Int8 output error of tfrewrite's range methods against TF's converter, on held-out data.

    /work/tfvenv/bin/python scripts/quant-error.py [--tfrewrite .build/release/tfrewrite]
        [--methods minmax,percentile:99.99,mse] [--json out.json] [--cases tiny_conv,...]

Needs a Python with tensorflow (2.21) and ai_edge_litert. For every case the float model, our
int8 conversions (one per method, all with the same calibration set) and TF's int8 conversion
run on LiteRT's builtin kernels over the held-out inputs; each int8 model gets the float
inputs quantized with its own input parameters and its outputs dequantized with its own
output parameters. Printed per case: the mean absolute error of output 0 against the float
model, the argmax agreement with it, and (where labels exist) accuracy.

TF's int8 models: the GraphDef cases are converted here, now, by the TF in this Python
(`from_frozen_graph`, full int8 with int8 I/O, the calibration set as representative dataset,
as Fixtures/generate.py and Fixtures/generate_graphdef_refs.py do); the Keras fixtures'
(recurrent, grouped convolutions) are the committed TF 2.21 conversions their generators
wrote (Fixtures/recurrent/generate.py, Fixtures/generate_repair.py), which need training to
regenerate.

Cases: the GraphDef fixtures (Fixtures/graphdef), the ML-KWS corpus graphs DNN_S, CNN_S and
DS_CNN_S cut at Mfcc -> labels_softmax (../shared/models/graphdef; skipped with a note when
absent), the unrolled recurrent digit classifiers, the TF1 while-loop LSTMs (tf1_lstm_digits and
the corpus's Basic_LSTM_S, compared with TF's float outputs and TF's int8 PTQ of the unrolled
cell, see Fixtures/generate_tf1_lstm.py), and the grouped-convolution digit models.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "Fixtures"
CORPUS = Path(os.environ.get("CORPUS_GRAPHS", ROOT.parent / "shared" / "models" / "graphdef"))
if not CORPUS.is_dir():
    CORPUS = Path("/work/shared/models/graphdef")


def cases():
    """name -> dict(source, args, calib, heldout, float, tf_int8 | tf_convert, labels)."""
    out = {}
    manifest = json.loads((FIX / "manifest.json").read_text())["graphdef"]
    for name in ("tiny_conv", "bn_net", "keras_dscnn", "scaled_input"):
        g = manifest[name]
        out[name] = dict(source=FIX / f"graphdef/{name}.pb", args=[], calib=FIX / f"calib/{name}_calib.npy",
                         heldout=FIX / f"heldout/{name}_inputs.npy", float=FIX / f"reference/{name}_tf.tflite",
                         tf_convert=(g["input"], g["input_shape"], g["output"]))
    for name, shape in (("DNN_S", [1, 25, 10]), ("CNN_S", [1, 49, 10]), ("DS_CNN_S", [1, 49, 10])):
        out[name] = dict(source=CORPUS / f"{name}.pb",
                         args=["--input-arrays", "Mfcc:" + ",".join(map(str, shape)), "--output-arrays", "labels_softmax"],
                         calib=FIX / f"calib/corpus_{name}_calib.npy", heldout=FIX / f"heldout/corpus_{name}_inputs.npy",
                         float=FIX / f"reference/corpus/{name}_tf.tflite", tf_convert=("Mfcc", shape, "labels_softmax"))
    for name in ("gru", "lstm", "lstm_stacked"):
        out[f"{name}_unrolled"] = dict(source=FIX / f"recurrent/{name}_unrolled_float.tflite", args=[],
                                       calib=FIX / "recurrent/calib.npy", heldout=FIX / "recurrent/heldout_inputs.npy",
                                       float=FIX / f"recurrent/{name}_unrolled_float.tflite",
                                       tf_int8=FIX / f"recurrent/{name}_unrolled_int8.tflite",
                                       labels=FIX / "recurrent/heldout_labels.npy")
    # TF1 while-loop LSTMs: TF cannot convert the loop, so the references are TF's float outputs
    # of the GraphDef and the outputs of TF's int8 PTQ of the cell unrolled by Python
    # (Fixtures/generate_tf1_lstm.py).
    for name, ref, args in (("tf1_lstm_digits", "tf1_lstm_digits", ["--output-arrays", "probabilities"]),
                            ("Basic_LSTM_S", "corpus_Basic_LSTM_S",
                             ["--input-arrays", "Mfcc", "--output-arrays", "labels_softmax"])):
        source = FIX / "graphdef/tf1_lstm_digits.pb" if name == "tf1_lstm_digits" else CORPUS / "Basic_LSTM_S.pb"
        labels = FIX / f"heldout/{ref}_labels.npy"
        out[name] = dict(source=source, args=args, calib=FIX / f"calib/{ref}_calib.npy", heldout=FIX / f"heldout/{ref}_inputs.npy",
                         float_outputs=FIX / f"heldout/{ref}_tf_outputs.npy",
                         tf_outputs=FIX / f"heldout/{ref}_tf_unrolled_int8_outputs.npy",
                         labels=labels if labels.is_file() else None)
    for g in (2, 4, 8):
        out[f"grouped_conv_g{g}"] = dict(source=FIX / f"repair/grouped_conv_g{g}_float.tflite", args=[],
                                         calib=FIX / "repair/digits_calib.npy", heldout=FIX / "repair/digits_inputs.npy",
                                         float=FIX / f"repair/grouped_conv_g{g}_float.tflite",
                                         tf_int8=FIX / f"repair/grouped_conv_g{g}_int8.tflite")
    return out


def tf_convert(pb, spec, calib):
    import tensorflow as tf
    name, shape, output = spec
    conv = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
        str(pb), input_arrays=[name], output_arrays=[output], input_shapes={name: list(shape)})

    def representative():
        for sample in calib:
            yield [np.asarray(sample, dtype=np.float32).reshape(shape)]
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


def run(model_bytes, samples):
    """Output 0 of each sample as float32 rows, on LiteRT's builtin kernels."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    it = Interpreter(model_content=model_bytes,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    rows = []
    for x in samples:
        x = np.asarray(x, dtype=np.float32).reshape(i["shape"])
        if i["dtype"] != np.float32:
            s, zp = i["quantization"]
            info = np.iinfo(i["dtype"])
            # Round half away from zero, as firmware (and tfrewrite verify) do.
            x = np.clip(np.trunc(x / s + np.copysign(0.5, x)) + zp, info.min, info.max).astype(i["dtype"])
        it.set_tensor(i["index"], x)
        it.invoke()
        y = it.get_tensor(o["index"])
        if o["dtype"] != np.float32:
            s, zp = o["quantization"]
            y = (y.astype(np.float32) - zp) * s
        rows.append(y.astype(np.float32).reshape(-1))
    return np.stack(rows)


def measure(ref, y, labels):
    m = {"mae": float(np.mean(np.abs(ref - y))),
         "argmax": int(np.sum(np.argmax(ref, -1) == np.argmax(y, -1))), "n": len(ref)}
    if labels is not None:
        m["accuracy"] = float(np.mean(np.argmax(y, -1) == labels))
    return m


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tfrewrite", default=str(ROOT / ".build/release/tfrewrite"))
    ap.add_argument("--methods", default="minmax,percentile:99.99,mse",
                    help="comma-separated --ranges values; add '+ws' for --weight-search, '+eq' for --equalize, "
                         "'+ar' for --optimize-rounding, '+micro' for --rules micro (per-channel FULLY_CONNECTED, as TF writes it) "
                         "(e.g. mse+ws+eq+ar)")
    ap.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    ap.add_argument("--json", help="write the numbers here")
    ap.add_argument("--tf-cache", help="folder to keep TF's int8 conversions in and reuse them from (TF's converter is the slow part)")
    args = ap.parse_args()
    methods = [m for m in args.methods.split(",") if m]
    table = {}
    all_cases = cases()
    wanted = [c for c in args.cases.split(",") if c] or list(all_cases)
    with tempfile.TemporaryDirectory() as tmp:
        for name in wanted:
            c = all_cases[name]
            if not Path(c["source"]).is_file():
                print(f"{name}: skipped, {c['source']} is absent", file=sys.stderr)
                continue
            calib = np.load(c["calib"])
            heldout = np.load(c["heldout"])
            labels = np.load(c["labels"]) if c.get("labels") else None
            if "float_outputs" in c:
                ref = np.load(c["float_outputs"]).astype(np.float32).reshape(len(heldout), -1)
            else:
                ref = run(Path(c["float"]).read_bytes(), heldout)
            row = {}
            for m in methods:
                ranges, *extra = m.split("+")
                out = Path(tmp) / f"{name}_{len(row)}.tflite"
                cmd = [args.tfrewrite, str(c["source"]), *c["args"], "--quantize", "int8", "--calibration", str(c["calib"]),
                       "--ranges", ranges, *(["--weight-search"] if "ws" in extra else []),
                       *(["--equalize"] if "eq" in extra else []),
                       *(["--optimize-rounding"] if "ar" in extra else []),
                       *(["--rules", "micro"] if "micro" in extra else []), "-o", str(out)]
                proc = subprocess.run(cmd, capture_output=True, text=True)
                if proc.returncode != 0:
                    print(f"{name} {m}: tfrewrite failed: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
                    continue
                row[m] = measure(ref, run(out.read_bytes(), heldout), labels)
            if "tf_outputs" in c:
                row["tf"] = measure(ref, np.load(c["tf_outputs"]).astype(np.float32).reshape(ref.shape), labels)
            elif args.tf_cache and (Path(args.tf_cache) / f"{name}.tflite").is_file():
                row["tf"] = measure(ref, run((Path(args.tf_cache) / f"{name}.tflite").read_bytes(), heldout), labels)
            else:
                tf_bytes = tf_convert(c["source"], c["tf_convert"], calib) if "tf_convert" in c else Path(c["tf_int8"]).read_bytes()
                if args.tf_cache:
                    Path(args.tf_cache).mkdir(parents=True, exist_ok=True)
                    (Path(args.tf_cache) / f"{name}.tflite").write_bytes(tf_bytes)
                row["tf"] = measure(ref, run(tf_bytes, heldout), labels)
            table[name] = row
            cells = "  ".join(f"{k} {v['mae']:.6f}/{v['argmax']}" + (f" acc {v['accuracy']:.4f}" if "accuracy" in v else "")
                              for k, v in row.items())
            print(f"{name} (n={len(heldout)}): {cells}", flush=True)
    if table:
        print("\nmean ratio to TF's mean abs error (lower is better):")
        for m in [*methods, "tf"]:
            ratios = [r[m]["mae"] / r["tf"]["mae"] for r in table.values() if m in r and r["tf"]["mae"] > 0]
            worst = max(ratios) if ratios else float("nan")
            print(f"  {m}: mean {np.mean(ratios):.4f}, worst {worst:.4f}, cases {len(ratios)}")
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
