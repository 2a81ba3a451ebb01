"""Round trip: `tfrewrite M -o OUT` must not change what the model computes
or what `inspect --json` says about it, and must be deterministic.

Models: every *.tflite in the corpus (../shared/models/tflite; a visible skip
when absent) and every Fixtures/**/*.tflite in the repo.
Oracles: LiteRT and TFLite Micro, each run in a child process (oracle.py).
"""

from __future__ import annotations

import concurrent.futures
import os

import pytest

import harness
import oracle

TFREWRITE = harness.tfrewrite_path()
if not TFREWRITE.is_file():
    pytest.skip(f"tfrewrite binary not found at {TFREWRITE} (run `swift build`, "
                "or set TFREWRITE=/path/to/tfrewrite)", allow_module_level=True)

SEED = 1
N_INPUTS = int(os.environ.get("CONFORMANCE_INPUTS", "20"))


def _model_params():
    params = []
    corpus = harness.corpus_models()
    if corpus is None:
        params.append(pytest.param(
            None, id="corpus-missing",
            marks=pytest.mark.skip(reason=f"model corpus not found at {harness.CORPUS_DIR}")))
    else:
        params += [pytest.param(p, id=f"corpus/{p.stem}") for p in corpus]
    for p in harness.fixture_models():
        rel = p.relative_to(harness.FIXTURES_DIR).with_suffix("")
        params.append(pytest.param(p, id=f"fixtures/{rel.as_posix()}"))
    return params


MODELS = _model_params()


@pytest.mark.parametrize("model", MODELS)
def test_rewrite_succeeds(model, rewrites):
    rewrites.rewritten_ok(model)


@pytest.mark.parametrize("runtime", oracle.RUNTIMES)
@pytest.mark.parametrize("model", MODELS)
def test_outputs_bit_identical(model, runtime, rewrites):
    """On each runtime that can run the original, the rewrite gives
    bit-identical outputs on the same seeded inputs. Where the runtime cannot
    run the original, the structure is checked instead (then reported as a
    skip of the runtime comparison)."""
    out = rewrites.rewritten_ok(model)
    try:
        inputs = oracle.make_inputs(model, SEED, N_INPUTS)
    except ValueError as e:  # e.g. a STRING input: nothing to feed
        inputs, original = None, oracle.RunFailure("cannot make inputs", str(e))
    else:
        # Original and rewrite run side by side (each in its own child process).
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            f_orig = pool.submit(oracle.run, runtime, model, inputs)
            f_rew = pool.submit(oracle.run, runtime, out, inputs)
            original, rewritten = f_orig.result(), f_rew.result()
    if isinstance(original, oracle.RunFailure):
        a = harness.structural_summary(rewrites.inspect(model))
        b = harness.structural_summary(rewrites.inspect(out))
        diff = harness.json_diff(a, b)
        if diff:
            pytest.fail(f"{runtime} cannot run the original ({original}); structural "
                        "check failed:\n  " + "\n  ".join(diff), pytrace=False)
        pytest.skip(f"{model.name}: {runtime} cannot run the original ({original}); "
                    "checked op sequence, custom options and metadata instead: identical")
    cmp = oracle.compare_results(runtime, original, rewritten, atol=0)
    if cmp.status != "identical":
        pytest.fail(f"{runtime}: {cmp.detail}", pytrace=False)


@pytest.mark.parametrize("model", MODELS)
def test_inspect_unchanged(model, rewrites):
    """`inspect --json` of original and rewrite agree, except IGNORED_FIELDS."""
    out = rewrites.rewritten_ok(model)
    a = harness.strip_ignored(rewrites.inspect(model))
    b = harness.strip_ignored(rewrites.inspect(out))
    diff = harness.json_diff(a, b)
    if diff:
        pytest.fail("inspect --json differs (ignoring "
                    f"{', '.join(harness.IGNORED_FIELDS)}):\n  " + "\n  ".join(diff),
                    pytrace=False)


@pytest.mark.parametrize("model", MODELS)
def test_reference_decode_unchanged(model, rewrites):
    """The official flatc-generated schema (not our reader) decodes original
    and rewrite to the same object tree, except REFERENCE_IGNORED_FIELDS."""
    out = rewrites.rewritten_ok(model)
    a = harness.strip_ignored(harness.reference_decode(model), harness.REFERENCE_IGNORED_FIELDS)
    b = harness.strip_ignored(harness.reference_decode(out), harness.REFERENCE_IGNORED_FIELDS)
    diff = harness.json_diff(a, b)
    if diff:
        pytest.fail("the official schema decodes the rewrite differently:\n  "
                    + "\n  ".join(diff), pytrace=False)


@pytest.mark.parametrize("model", MODELS)
def test_rewrite_deterministic(model, rewrites):
    """Rewriting the same file twice gives byte-identical files."""
    first = rewrites.rewritten_ok(model)
    second = rewrites.rewritten_ok(model, tag="again")
    _assert_same_bytes(first, second, f"two rewrites of {model.name} differ")


@pytest.mark.parametrize("model", MODELS)
def test_rewrite_is_fixed_point(model, rewrites):
    """Rewriting the rewritten file gives the same bytes again."""
    first = rewrites.rewritten_ok(model)
    second = rewrites.rewritten_ok(first, tag="of-rewritten")
    _assert_same_bytes(first, second,
                       f"rewrite(rewrite({model.name})) differs from rewrite({model.name})")


def _assert_same_bytes(p, q, what):
    a, b = p.read_bytes(), q.read_bytes()
    if a != b:
        at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        pytest.fail(f"{what}: sizes {len(a)} vs {len(b)}, first difference at byte {at} "
                    f"({p} vs {q})", pytrace=False)
