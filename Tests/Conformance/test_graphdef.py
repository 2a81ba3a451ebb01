"""GraphDef / SavedModel import: our float .tflite against TensorFlow's own conversion of
the same graph (tf.compat.v1.lite.TFLiteConverter.from_frozen_graph), run on LiteRT and on
TFLite Micro through oracle.py.

Graphs:
  - Fixtures/graphdef/{tiny_conv,bn_net,keras_dscnn,scaled_input}.pb and Fixtures/savedmodel/<same>/
    against Fixtures/reference/<name>_tf.tflite;
  - ../shared/models/graphdef/{DNN_S,CNN_S,DS_CNN_S}.pb cut at Mfcc -> labels_softmax
    against Fixtures/reference/corpus/<name>_tf.tflite (Fixtures/generate_graphdef_refs.py);
    a visible skip when the corpus is absent.

Each comparison runs CONFORMANCE_GRAPHDEF_INPUTS (default 50) seeded random inputs and the
100 held-out realistic inputs stored next to the references, with atol 1e-5.
"""

from __future__ import annotations

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

SEED = 1
N_INPUTS = int(os.environ.get("CONFORMANCE_GRAPHDEF_INPUTS", "50"))
ATOL = 1e-5
FIXTURES = harness.FIXTURES_DIR
GRAPHDEF_CORPUS = harness.REPO_ROOT.parent / "shared" / "models" / "graphdef"
BATCH_NORM_OPS = {"MUL", "ADD", "SUB", "RSQRT", "SQRT", "DIV"}


def _cases():
    cases = []
    for name in ("tiny_conv", "bn_net", "keras_dscnn", "scaled_input"):
        ref = FIXTURES / "reference" / f"{name}_tf.tflite"
        heldout = FIXTURES / "heldout" / f"{name}_inputs.npy"
        cases.append(pytest.param(FIXTURES / "graphdef" / f"{name}.pb", [], ref, heldout, id=f"graphdef/{name}"))
        cases.append(pytest.param(FIXTURES / "savedmodel" / name, [], ref, heldout, id=f"savedmodel/{name}"))
    for name in ("DNN_S", "CNN_S", "DS_CNN_S"):
        pb = GRAPHDEF_CORPUS / f"{name}.pb"
        ref = FIXTURES / "reference" / "corpus" / f"{name}_tf.tflite"
        heldout = FIXTURES / "heldout" / f"corpus_{name}_inputs.npy"
        marks = [] if pb.is_file() else [pytest.mark.skip(reason=f"graphdef corpus absent: {pb} not found")]
        cases.append(pytest.param(pb, ["--input-arrays", "Mfcc", "--output-arrays", "labels_softmax"], ref, heldout,
                                  id=f"corpus/{name}", marks=marks))
    return cases


CASES = _cases()


@pytest.fixture(scope="module")
def converted(work_dir):
    """Converts each source once per session: {(source, args): output path}."""
    done = {}

    def convert(source: Path, args, tag="plain"):
        key = (str(source), tuple(args), tag)
        if key not in done:
            out = work_dir / "graphdef" / f"{len(done):03d}-{source.stem or source.name}.tflite"
            out.parent.mkdir(parents=True, exist_ok=True)
            proc = harness.run_tfrewrite(TFREWRITE, source, *args, "-o", out)
            if proc.returncode != 0:
                pytest.fail("conversion failed: " + harness.describe_process(proc), pytrace=False)
            done[key] = out
        return done[key]
    return convert


def _ops(path):
    return [op["op"] for op in harness.inspect_json(TFREWRITE, path)["subgraphs"][0]["operators"]]


@pytest.mark.parametrize("source,args,reference,heldout", CASES)
def test_structure(source, args, reference, heldout, converted):
    """No batch-norm arithmetic left, and no more ops than TF's converter emits."""
    ours, theirs = _ops(converted(source, args)), _ops(reference)
    assert not BATCH_NORM_OPS & set(ours), f"batch-norm arithmetic left: {ours}"
    assert len(ours) <= len(theirs), f"ours {ours} vs TF {theirs}"


@pytest.mark.parametrize("runtime", oracle.RUNTIMES)
@pytest.mark.parametrize("source,args,reference,heldout", CASES)
def test_matches_tensorflow_on_seeded_inputs(source, args, reference, heldout, runtime, converted):
    out = converted(source, args)
    inputs = oracle.make_inputs(reference, SEED, N_INPUTS)
    cmp = oracle.compare_models(out, reference, runtimes=(runtime,), atol=ATOL, inputs=inputs)[runtime]
    assert cmp.status in ("identical", "within atol"), f"{runtime}: {cmp.detail}"


@pytest.mark.parametrize("runtime", oracle.RUNTIMES)
@pytest.mark.parametrize("source,args,reference,heldout", CASES)
def test_matches_tensorflow_on_heldout_inputs(source, args, reference, heldout, runtime, converted):
    """Realistic inputs (MFCCs from the graphs' own audio front end, spectrogram- and
    image-like fixture data), where a folding error would show in the argmax."""
    out = converted(source, args)
    data = np.load(heldout).astype(np.float32)
    inputs = [[x] for x in data]
    cmp = oracle.compare_models(out, reference, runtimes=(runtime,), atol=ATOL, inputs=inputs)[runtime]
    assert cmp.status in ("identical", "within atol"), f"{runtime}: {cmp.detail}"


def test_micro_speech_rules_give_toco_structure(converted):
    """tiny_conv under the micro_speech firmware rules: the op sequence of TOCO's reference
    micro_speech model, and still TF's numbers."""
    out = converted(FIXTURES / "graphdef" / "tiny_conv.pb", ["--rules", "micro_speech"], tag="micro_speech")
    assert _ops(out) == ["RESHAPE", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"]
    toco = harness.REPO_ROOT.parent / "shared" / "models" / "tflite" / "micro_speech_quantized.tflite"
    if toco.is_file():
        assert _ops(out) == _ops(toco)
    reference = FIXTURES / "reference" / "tiny_conv_tf.tflite"
    inputs = oracle.make_inputs(reference, SEED, N_INPUTS)
    for runtime, cmp in oracle.compare_models(out, reference, atol=ATOL, inputs=inputs).items():
        assert cmp.status in ("identical", "within atol"), f"{runtime}: {cmp.detail}"


# Basic_LSTM_S (TF1 while loop + TensorArrays) converts since the TF1 loop import:
# test_tf1_lstm.py checks it against TF on TFLM.
