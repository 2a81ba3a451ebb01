#!/usr/bin/env bash
# Installs the system packages tfrewrite needs when they are missing (Debian/Ubuntu, apt-get):
#   libprotobuf-c-dev + pkg-config   protobuf-c runtime for the GraphDef/SavedModel importer
#   zlib1g-dev                       zlib, to read .npz files written by np.savez_compressed
#   libhdf5-dev                      HDF5, to read Keras .keras weights and .h5 model files
#   protobuf-c-compiler              protoc-c, only to check the committed generated code
#   python3-venv                     the conformance tests' venv (LiteRT and TFLM oracles)
#   chromium                         a headless browser: the conformance tests load `show`'s pages
set -euo pipefail

missing=()
pkg-config --exists libprotobuf-c 2>/dev/null || missing+=(libprotobuf-c-dev pkg-config)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
pkg-config --exists zlib 2>/dev/null || missing+=(zlib1g-dev)
pkg-config --exists hdf5-serial 2>/dev/null || pkg-config --exists hdf5 2>/dev/null || missing+=(libhdf5-dev)
command -v protoc-c >/dev/null 2>&1 || missing+=(protobuf-c-compiler)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)

if ((${#missing[@]})); then
    echo "ensure-deps: installing ${missing[*]}" >&2
    sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "ensure-deps: apt-get not found; install these yourself: ${missing[*]}" >&2
        exit 2
    fi
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null 2>&1 || { echo "ensure-deps: the Swift 6 toolchain (swift) is not on PATH" >&2; exit 2; }
