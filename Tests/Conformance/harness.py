"""Shared helpers for the conformance tests: where things are, how to call
the tfrewrite CLI, and how to compare its `inspect --json` documents."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Optional

REPO_ROOT = Path(__file__).resolve().parents[2]

# ../shared/models/tflite from the repo root; CONFORMANCE_CORPUS overrides.
CORPUS_DIR = Path(os.environ.get("CONFORMANCE_CORPUS")
                  or REPO_ROOT.parent / "shared" / "models" / "tflite")
FIXTURES_DIR = REPO_ROOT / "Fixtures"
DEFAULT_TFREWRITE = REPO_ROOT / ".build" / "debug" / "tfrewrite"

TFREWRITE_TIMEOUT = 120  # seconds per CLI call

# Paths of `inspect --json` fields that may differ between a model and its
# rewrite. Only things that are not properties of the model belong here:
#   "file"  the path the CLI was given (the two files differ by construction).
# The schema has no file offsets today; if one is added (e.g. a buffer's
# offset in the file), list it here, e.g. "buffer_layout[].offset".
# Syntax: dot-separated keys, "[]" after a key = every element of that list.
IGNORED_FIELDS = ("file",)


def tfrewrite_path() -> Path:
    """$TFREWRITE (relative paths are from the repo root), else
    .build/debug/tfrewrite."""
    env = os.environ.get("TFREWRITE")
    if not env:
        return DEFAULT_TFREWRITE
    p = Path(env)
    return p if p.is_absolute() else REPO_ROOT / p


def corpus_models() -> Optional[list]:
    """Sorted corpus models, or None when the corpus folder is absent."""
    if not CORPUS_DIR.is_dir():
        return None
    return sorted(CORPUS_DIR.glob("*.tflite"))


def fixture_models() -> list:
    if not FIXTURES_DIR.is_dir():
        return []
    return sorted(FIXTURES_DIR.glob("**/*.tflite"))


def run_tfrewrite(tfrewrite, *args, timeout=TFREWRITE_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run([str(tfrewrite), *map(str, args)], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, text=True)


def describe_process(proc: subprocess.CompletedProcess, limit=2000) -> str:
    cmd = " ".join(map(str, proc.args))
    err = (proc.stderr or "").strip()
    out = (proc.stdout or "").strip()
    text = f"`{cmd}` exited {proc.returncode}"
    if err:
        text += f"\nstderr: {err[-limit:]}"
    if out and proc.returncode != 0:
        text += f"\nstdout: {out[-limit:]}"
    return text


class CLIError(AssertionError):
    pass


def inspect_json(tfrewrite, model) -> dict:
    proc = run_tfrewrite(tfrewrite, "inspect", model, "--json")
    if proc.returncode != 0:
        raise CLIError(describe_process(proc))
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        raise CLIError(f"`inspect {model} --json` printed invalid JSON ({e}): "
                       f"{proc.stdout[:500]!r}") from None


# ----------------------------------------------------------------------------
# Comparing inspect documents
# ----------------------------------------------------------------------------

def _drop(doc, parts):
    if not parts or doc is None:
        return
    head, rest = parts[0], parts[1:]
    each = head.endswith("[]")
    key = head[:-2] if each else head
    if not isinstance(doc, dict) or key not in doc:
        return
    if not rest:
        del doc[key]
    elif each:
        for item in doc[key] or []:
            _drop(item, rest)
    else:
        _drop(doc[key], rest)


def strip_ignored(doc: dict, ignored=IGNORED_FIELDS) -> dict:
    doc = json.loads(json.dumps(doc))  # deep copy
    for path in ignored:
        _drop(doc, path.split("."))
    return doc


def json_diff(a, b, path="$", limit=20) -> list:
    """Human-readable differences between two JSON values (first `limit`)."""
    out = []

    def walk(x, y, p):
        if len(out) >= limit:
            return
        if isinstance(x, dict) and isinstance(y, dict):
            for k in sorted(set(x) | set(y), key=str):
                if k not in x:
                    out.append(f"{p}.{k}: missing in original, rewritten has {_short(y[k])}")
                elif k not in y:
                    out.append(f"{p}.{k}: {_short(x[k])} in original, missing in rewritten")
                else:
                    walk(x[k], y[k], f"{p}.{k}")
        elif isinstance(x, list) and isinstance(y, list):
            if len(x) != len(y):
                out.append(f"{p}: length {len(x)} in original vs {len(y)} in rewritten")
            for i, (xi, yi) in enumerate(zip(x, y)):
                walk(xi, yi, f"{p}[{i}]")
        elif type(x) is not type(y) or x != y:
            out.append(f"{p}: {_short(x)} (original) != {_short(y)} (rewritten)")

    walk(a, b, path)
    return out


def _short(v, n=120):
    s = json.dumps(v, sort_keys=True)
    return s if len(s) <= n else s[:n] + "..."


def structural_summary(doc: dict) -> dict:
    """What must survive a rewrite even where no runtime can execute the
    model: each subgraph's op sequence (op, custom code, version, custom
    options digest) and the metadata entries (name, size, digest)."""
    return {
        "subgraphs": [
            [{"op": op.get("op"), "custom_code": op.get("custom_code"),
              "version": op.get("version"),
              "custom_options_sha256": op.get("custom_options_sha256")}
             for op in sg.get("operators", [])]
            for sg in doc.get("subgraphs", [])
        ],
        "metadata": [{"name": m.get("name"), "size": m.get("size"), "sha256": m.get("sha256")}
                     for m in doc.get("metadata", [])],
    }


# ----------------------------------------------------------------------------
# Independent decoding with the official schema (not our reader)
# ----------------------------------------------------------------------------

# Fields of the official object tree that may differ between a model and its
# rewrite. Operator.largeCustomOptionsOffset/Size locate custom options stored
# outside the flatbuffer (file offsets, models > 2 GB). Buffer.offset/size are
# already gone: buffers are compared by content, where tensors use them.
REFERENCE_IGNORED_FIELDS = (
    "subgraphs[].operators[].largeCustomOptionsOffset",
    "subgraphs[].operators[].largeCustomOptionsSize",
)


def reference_decode(path) -> dict:
    """The model as decoded by the flatc-generated Python schema shipped with
    ai-edge-litert (object API): an independent check on our own reader (a
    field that our writer puts in the wrong place and our reader reads from
    the same wrong place shows up here, not in `inspect --json`).

    Normalized so that only encoding choices a rewriter may make vanish:
      - operator codes are resolved per operator into {builtin, custom_code,
        version} (the operator-code table may be reordered or deduplicated;
        builtin = max(builtin_code, deprecated_builtin_code));
      - buffers are resolved into content digests where tensors and metadata
        use them (the buffer table may be reordered or deduplicated);
      - an absent builtin options table equals one with all defaults;
      - an absent vector equals an empty one (except shape_signature, where
        absent means "same as shape");
      - byte vectors (custom options, data) become {"len", "sha256"}."""
    import hashlib

    import numpy as np

    from oracle import _schema

    schema = _schema()
    buf = Path(path).read_bytes()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(buf, 0))
    option_names = {v: k for k, v in vars(schema.BuiltinOptions).items()
                    if not k.startswith("_") and isinstance(v, int)}
    option2_names = {v: k for k, v in vars(getattr(schema, "BuiltinOptions2", object)).items()
                     if not k.startswith("_") and isinstance(v, int)}

    def digest(b):
        if b is None:
            return None
        b = bytes(bytearray(np.asarray(b, dtype=np.uint8)))
        return {"len": len(b), "sha256": hashlib.sha256(b).hexdigest()} if b else None

    buffers = [digest(b.data) for b in (model.buffers or [])]

    def buffer_ref(i):
        return buffers[i] if 0 <= i < len(buffers) else {"missing_buffer": i}

    codes = []
    for oc in model.operatorCodes or []:
        codes.append({"builtin": max(oc.builtinCode, oc.deprecatedBuiltinCode),
                      "custom_code": oc.customCode, "version": oc.version})

    def default_options(type_, names):
        cls = getattr(schema, names.get(type_, "") + "T", None)
        return cls() if (type_ and cls) else None

    for sg in model.subgraphs or []:
        for t in sg.tensors or []:
            t.buffer = buffer_ref(t.buffer)
        for op in sg.operators or []:
            idx = op.opcodeIndex
            op.opcodeIndex = codes[idx] if 0 <= idx < len(codes) else {"missing_opcode": idx}
            op.customOptions = digest(op.customOptions)
            if op.builtinOptions is None:
                op.builtinOptions = default_options(op.builtinOptionsType, option_names)
            if getattr(op, "builtinOptions2", None) is None and getattr(op, "builtinOptions2Type", 0):
                op.builtinOptions2 = default_options(op.builtinOptions2Type, option2_names)
    for md in model.metadata or []:
        md.buffer = buffer_ref(md.buffer)
    if getattr(model, "metadataBuffer", None) is not None:
        model.metadataBuffer = [buffer_ref(int(i)) for i in model.metadataBuffer]
    model.operatorCodes = None
    model.buffers = None

    def conv(o, key=""):
        if isinstance(o, np.generic):
            return o.item()
        if o is None or isinstance(o, (bool, int, float, str)):
            return o
        if isinstance(o, (bytes, bytearray)):
            return o.decode("utf-8", "replace")
        if isinstance(o, np.ndarray):
            o = o.tolist()
        if isinstance(o, (list, tuple)):
            if not o and key != "shapeSignature":
                return None
            return [conv(x) for x in o]
        if isinstance(o, dict):
            return {k: conv(v, k) for k, v in sorted(o.items())}
        return {k: conv(v, k) for k, v in sorted(vars(o).items())}

    return conv(model)
