"""Int8 post-training quantization against TensorFlow's own converter.

For each model, tfrewrite converts the TF graph to int8 with the same
calibration set TF's converter was given (Fixtures/calib), and both int8
models are measured against TF's float model on 100 held-out inputs
(Fixtures/heldout), on LiteRT and on TFLite Micro. Each int8 model gets the
float inputs quantized with its own input scale and zero point, and its
outputs dequantized with its own output parameters. Acceptance: tfrewrite's
mean abs error is at most TF's and its argmax agreement at least TF's.

Models: the fixture graphs (Fixtures/graphdef/{tiny_conv,bn_net,keras_dscnn,scaled_input})
and the corpus KWS graphs DNN_S, CNN_S, DS_CNN_S cut at Mfcc -> labels_softmax
(../shared/models/graphdef; a visible skip when absent).

Also: `--rules micro_speech --quantize int8` gives a model of RESHAPE,
DEPTHWISE_CONV_2D, FULLY_CONNECTED and SOFTMAX only, int8 in and out, that
TFLM runs; `--quantize` flag errors; `tfrewrite verify`.

Set QUANTIZE_REPORT=path.json to save the measured table.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
from pathlib import Path

import numpy as np
import pytest

import harness
import oracle

TFREWRITE = harness.tfrewrite_path()
if not TFREWRITE.is_file():
    pytest.skip(f"tfrewrite binary not found at {TFREWRITE} (run `swift build`, "
                "or set TFREWRITE=/path/to/tfrewrite)", allow_module_level=True)

FIX = harness.FIXTURES_DIR
CORPUS_GRAPHS = harness.CORPUS_DIR.parent / "graphdef" if harness.CORPUS_DIR.name == "tflite" \
    else harness.CORPUS_DIR / "graphdef"

# name -> (source graph, extra CLI args, calibration, held-out inputs, TF float, TF int8)
CASES = {
    "tiny_conv": (FIX / "graphdef/tiny_conv.pb", [], "calib/tiny_conv_calib.npy",
                  "heldout/tiny_conv_inputs.npy", "reference/tiny_conv_tf.tflite",
                  "reference/tiny_conv_tf_int8.tflite"),
    "bn_net": (FIX / "graphdef/bn_net.pb", [], "calib/bn_net_calib.npy",
               "heldout/bn_net_inputs.npy", "reference/bn_net_tf.tflite",
               "reference/bn_net_tf_int8.tflite"),
    "keras_dscnn": (FIX / "graphdef/keras_dscnn.pb", [], "calib/keras_dscnn_calib.npy",
                    "heldout/keras_dscnn_inputs.npy", "reference/keras_dscnn_tf.tflite",
                    "reference/keras_dscnn_tf_int8.tflite"),
    "scaled_input": (FIX / "graphdef/scaled_input.pb", [], "calib/scaled_input_calib.npy",
                     "heldout/scaled_input_inputs.npy", "reference/scaled_input_tf.tflite",
                     "reference/scaled_input_tf_int8.tflite"),
}
for _name, _shape in (("DNN_S", "1,25,10"), ("CNN_S", "1,49,10"), ("DS_CNN_S", "1,49,10")):
    CASES[f"corpus_{_name}"] = (
        CORPUS_GRAPHS / f"{_name}.pb", ["--input-arrays", f"Mfcc:{_shape}", "--output-arrays", "labels_softmax"],
        f"calib/corpus_{_name}_calib.npy", f"heldout/corpus_{_name}_inputs.npy",
        f"reference/corpus/{_name}_tf.tflite", f"reference/corpus/{_name}_tf_int8.tflite")


# ---------------------------------------------------------------------------
# Helpers

def io_quantization(model_path, which):
    """[(scale, zero_point) or None] for subgraph 0's inputs or outputs."""
    schema = oracle._schema()
    buf = Path(model_path).read_bytes()
    sg = schema.Model.GetRootAs(buf, 0).Subgraphs(0)
    n = sg.InputsLength() if which == "inputs" else sg.OutputsLength()
    out = []
    for k in range(n):
        t = sg.Tensors(sg.Inputs(k) if which == "inputs" else sg.Outputs(k))
        q = t.Quantization()
        if q is None or q.ScaleLength() == 0:
            out.append(None)
        else:
            out.append((float(q.Scale(0)), int(q.ZeroPoint(0)) if q.ZeroPointLength() else 0))
    return out


def quantize_inputs(model_path, samples):
    """Float samples [N, ...] as one-input runs for this model (int8 when it wants int8)."""
    spec = oracle.input_specs(model_path)[0]
    q = io_quantization(model_path, "inputs")[0]
    runs = []
    for x in samples:
        x = np.asarray(x, dtype=np.float32).reshape(spec.shape)
        if spec.dtype == np.int8:
            s, zp = q
            x = np.clip(np.round(x / s) + zp, -128, 127).astype(np.int8)
        runs.append([x])
    return runs


def real_outputs(model_path, outputs):
    """Output 0 of every run as float, dequantized with the model's output parameters."""
    q = io_quantization(model_path, "outputs")[0]
    ys = []
    for run in outputs:
        y = np.asarray(run[0])
        if y.dtype != np.float32 and q is not None:
            s, zp = q
            y = (y.astype(np.float32) - zp) * s
        ys.append(y.astype(np.float32).reshape(-1))
    return np.stack(ys)


def accuracy(reference, candidate):
    mae = float(np.mean(np.abs(reference - candidate)))
    agree = int(np.sum(np.argmax(reference, axis=-1) == np.argmax(candidate, axis=-1)))
    return mae, agree


class Conversions:
    """tfrewrite conversions and oracle runs, done once per session."""

    def __init__(self, work: Path):
        self.work = work
        self.converted = {}
        self.runs = {}

    def convert(self, name, *extra):
        key = (name, extra)
        if key not in self.converted:
            src, args, calib, *_ = CASES[name]
            if not Path(src).is_file():
                pytest.skip(f"{src} is absent: corpus model skipped")
            out = self.work / f"{name}_{len(self.converted)}.tflite"
            proc = harness.run_tfrewrite(TFREWRITE, src, *args, "--quantize", "int8",
                                         "--calibration", FIX / calib, *extra, "-o", out)
            self.converted[key] = (proc, out)
        proc, out = self.converted[key]
        if proc.returncode != 0:
            pytest.fail("quantize failed: " + harness.describe_process(proc), pytrace=False)
        return out, proc

    def measure(self, name, runtime):
        """{'ours': (mae, agree), 'tf': (mae, agree), 'n': N} on `runtime`."""
        key = (name, runtime)
        if key in self.runs:
            return self.runs[key]
        _, _, _, heldout, tf_float, tf_int8 = CASES[name]
        ours, _ = self.convert(name)
        samples = np.load(FIX / heldout)
        models = {"float": FIX / tf_float, "tf": FIX / tf_int8, "ours": ours}
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            futs = {k: pool.submit(oracle.run, runtime, m, quantize_inputs(m, samples))
                    for k, m in models.items()}
            results = {k: f.result() for k, f in futs.items()}
        for k, r in results.items():
            if isinstance(r, oracle.RunFailure):
                pytest.fail(f"{runtime} cannot run {k} model {models[k]}: {r}", pytrace=False)
        ref = real_outputs(models["float"], results["float"])
        m = {k: accuracy(ref, real_outputs(models[k], results[k])) for k in ("ours", "tf")}
        m["n"] = len(samples)
        self.runs[key] = m
        return m


@pytest.fixture(scope="module")
def conversions(tmp_path_factory):
    c = Conversions(tmp_path_factory.mktemp("quantize"))
    yield c
    report = os.environ.get("QUANTIZE_REPORT")
    if report and c.runs:
        table = {f"{n}/{rt}": {"ours_mae": m["ours"][0], "ours_argmax": m["ours"][1],
                               "tf_mae": m["tf"][0], "tf_argmax": m["tf"][1], "n": m["n"]}
                 for (n, rt), m in sorted(c.runs.items())}
        Path(report).write_text(json.dumps(table, indent=2) + "\n")


# ---------------------------------------------------------------------------
# Accuracy against TF's int8 conversion

@pytest.mark.parametrize("runtime", oracle.RUNTIMES)
@pytest.mark.parametrize("name", list(CASES))
def test_accuracy_at_least_tf(name, runtime, conversions):
    m = conversions.measure(name, runtime)
    (ours_mae, ours_agree), (tf_mae, tf_agree) = m["ours"], m["tf"]
    print(f"{name} {runtime}: ours mae {ours_mae:.6f} argmax {ours_agree}/{m['n']}; "
          f"TF mae {tf_mae:.6f} argmax {tf_agree}/{m['n']}")
    assert m["n"] >= 100
    assert ours_mae <= tf_mae, f"mean abs error {ours_mae:.6g} > TF's {tf_mae:.6g}"
    assert ours_agree >= tf_agree, f"argmax agreement {ours_agree} < TF's {tf_agree}"


@pytest.mark.parametrize("name", list(CASES))
def test_int8_io_and_structure(name, conversions):
    """Int8 in and out, no float ops left, the parameters printed for the user."""
    out, proc = conversions.convert(name)
    for which in ("inputs", "outputs"):
        specs = oracle.input_specs(out) if which == "inputs" else oracle.output_specs(out)
        assert [s.type_name for s in specs] == ["INT8"] * len(specs)
        assert all(q is not None for q in io_quantization(out, which))
    doc = harness.inspect_json(TFREWRITE, out)
    assert "QUANTIZE" not in json.dumps(doc.get("ops", doc))
    assert "scale" in proc.stderr and "zero_point" in proc.stderr
    assert "calibrating:" in proc.stderr


# ---------------------------------------------------------------------------
# Other range methods and equalization: the models run on both runtimes, near TF's error

@pytest.mark.parametrize("runtime", oracle.RUNTIMES)
@pytest.mark.parametrize("extra", [("--ranges", "mse"), ("--ranges", "percentile:99.99"),
                                   ("--weight-search",), ("--equalize",)], ids=" ".join)
@pytest.mark.parametrize("name", ["keras_dscnn", "corpus_DS_CNN_S"])
def test_range_methods_run_and_stay_near_tf(name, extra, runtime, conversions):
    """Not a claim of being better (Docs/quantization.md has the measured table): the
    options give valid int8 models the runtimes accept, within 1.25x TF's mean error."""
    out, _ = conversions.convert(name, *extra)
    _, _, _, heldout, tf_float, tf_int8 = CASES[name]
    samples = np.load(FIX / heldout)
    res = {k: oracle.run(runtime, m, quantize_inputs(m, samples))
           for k, m in {"float": FIX / tf_float, "ours": out, "tf": FIX / tf_int8}.items()}
    for k, r in res.items():
        assert not isinstance(r, oracle.RunFailure), f"{runtime} cannot run {k}: {r}"
    ref = real_outputs(FIX / tf_float, res["float"])
    ours = accuracy(ref, real_outputs(out, res["ours"]))
    tf = accuracy(ref, real_outputs(FIX / tf_int8, res["tf"]))
    print(f"{name} {' '.join(extra)} {runtime}: ours {ours}, TF {tf}")
    assert ours[0] <= 1.25 * tf[0], (ours, tf)
    assert ours[1] >= 0.9 * tf[1], (ours, tf)


# ---------------------------------------------------------------------------
# micro_speech firmware

def test_micro_speech_ops_and_tflm(conversions, tmp_path):
    out = tmp_path / "micro_speech_int8.tflite"
    proc = harness.run_tfrewrite(TFREWRITE, FIX / "graphdef/tiny_conv.pb", "--rules", "micro_speech",
                                 "--quantize", "int8", "--calibration", FIX / "calib/tiny_conv_calib.npy",
                                 "-o", out)
    assert proc.returncode == 0, harness.describe_process(proc)
    schema = oracle._schema()
    model = schema.Model.GetRootAs(out.read_bytes(), 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    sg = model.Subgraphs(0)
    ops = []
    for i in range(sg.OperatorsLength()):
        oc = model.OperatorCodes(sg.Operators(i).OpcodeIndex())
        ops.append(names[max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())])
    assert set(ops) <= {"RESHAPE", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"}, ops
    assert "DEPTHWISE_CONV_2D" in ops
    assert [s.type_name for s in oracle.input_specs(out)] == ["INT8"]
    assert [s.type_name for s in oracle.output_specs(out)] == ["INT8"]
    samples = np.load(FIX / "heldout/tiny_conv_inputs.npy")
    tf_float = FIX / "reference/tiny_conv_tf.tflite"
    tf_int8 = FIX / "reference/tiny_conv_tf_int8.tflite"
    res = {k: oracle.run("tflm", m, quantize_inputs(m, samples))
           for k, m in {"float": tf_float, "ours": out, "tf": tf_int8}.items()}
    for k, r in res.items():
        assert not isinstance(r, oracle.RunFailure), f"tflm cannot run {k}: {r}"
    ref = real_outputs(tf_float, res["float"])
    ours = accuracy(ref, real_outputs(out, res["ours"]))
    tf = accuracy(ref, real_outputs(tf_int8, res["tf"]))
    assert ours[0] <= tf[0] and ours[1] >= tf[1], (ours, tf)


# ---------------------------------------------------------------------------
# Flags and verify

def test_quantize_without_calibration_is_a_usage_error(tmp_path):
    proc = harness.run_tfrewrite(TFREWRITE, FIX / "micro_speech_float.tflite", "--quantize", "int8",
                                 "-o", tmp_path / "x.tflite")
    assert proc.returncode == 2
    assert "--calibration" in proc.stderr
    assert not (tmp_path / "x.tflite").exists()


def test_random_calibration_warns(tmp_path):
    out = tmp_path / "x.tflite"
    proc = harness.run_tfrewrite(TFREWRITE, FIX / "micro_speech_float.tflite", "--quantize", "int8",
                                 "--calibration", "random:4", "-o", out)
    assert proc.returncode == 0, harness.describe_process(proc)
    assert "warning" in proc.stderr and "random" in proc.stderr
    assert out.is_file()


def test_bad_calibration_shape_is_one_line_error(tmp_path):
    proc = harness.run_tfrewrite(TFREWRITE, FIX / "micro_speech_float.tflite", "--quantize", "int8",
                                 "--calibration", FIX / "calib/bn_net_calib.npy", "-o", tmp_path / "x.tflite")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("tfrewrite: error: ") and "bn_net_calib.npy" in lines[-1], proc.stderr


def test_verify_reports_outputs_and_layers(conversions):
    out, _ = conversions.convert("keras_dscnn")
    float_model = FIX / "reference/keras_dscnn_tf.tflite"
    proc = harness.run_tfrewrite(TFREWRITE, "verify", float_model, out, "--inputs",
                                 FIX / "heldout/keras_dscnn_inputs.npy", "--layers", "--json")
    assert proc.returncode == 0, harness.describe_process(proc)
    doc = json.loads(proc.stdout)
    assert doc["inputs"]["samples"] == 100 and not doc["inputs"]["random"]
    o = doc["outputs"][0]
    assert 0 < o["mean_abs_error"] < 0.05 and o["argmax_rows"] == 100 and o["argmax_agree"] >= 80
    assert len(doc["layers"]) >= 5
    proc = harness.run_tfrewrite(TFREWRITE, "verify", float_model, out, "--max-abs-error", "0")
    assert proc.returncode == 1
    assert "random" in proc.stdout
