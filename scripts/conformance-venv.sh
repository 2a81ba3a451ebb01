#!/usr/bin/env bash
# Create (idempotently) the Python venv for Tests/Conformance: the real
# runtimes used as oracles (LiteRT and TFLite Micro), numpy and pytest.
#
#   scripts/conformance-venv.sh [VENV_DIR]      default: <repo>/.venv/conformance
#
# The pip step is skipped when the venv's stamp file records the same
# requirement set and Python. The last line printed is the venv's python.
# PYTHON=/path/to/python3.11 picks the interpreter used to create the venv
# (the pinned wheels are published for CPython 3.11 on x86_64 Linux).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:-$repo_root/.venv/conformance}"

# Pinned to the versions the harness was developed and verified with.
requirements="ai-edge-litert==2.3.0
tflite-micro==0.dev20261023182759
numpy==2.4.6
pytest==9.2.0"

pick_python() {
    if [[ -n "${PYTHON:-}" ]]; then echo "$PYTHON"; return; fi
    local c
    for c in python3.11 python3; do
        if command -v "$c" >/dev/null 2>&1; then command -v "$c"; return; fi
    done
    echo "conformance-venv: no python3 found (set PYTHON=...)" >&2
    exit 1
}

py="$venv/bin/python"
if [[ ! -x "$py" ]]; then
    base="$(pick_python)"
    "$base" -m venv "$venv" || {
        echo "conformance-venv: '$base -m venv' failed (Debian: apt-get install python3-venv)" >&2
        exit 1
    }
fi

stamp="$venv/.conformance-requirements"
want="$(printf '%s\n%s\n' "$("$py" -c 'import sys; print(sys.version)')" "$requirements")"
if [[ ! -f "$stamp" ]] || [[ "$(cat "$stamp")" != "$want" ]]; then
    req_file="$(mktemp)"
    trap 'rm -f "$req_file"' EXIT
    printf '%s\n' "$requirements" > "$req_file"
    if ! "$py" -m pip install --quiet --disable-pip-version-check \
            --no-input -r "$req_file" >&2; then
        echo "conformance-venv: pip install failed into $venv" >&2
        exit 1
    fi
    # Prove the oracles import before stamping.
    "$py" -c 'import numpy, pytest
from ai_edge_litert.interpreter import Interpreter
from tflite_micro.python.tflite_micro import runtime' >&2
    printf '%s\n' "$want" > "$stamp"
fi

echo "$py"
