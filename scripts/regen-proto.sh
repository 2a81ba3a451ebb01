#!/bin/sh
# Regenerates the protobuf-c code for our TensorFlow proto subset:
#   Sources/TFProto/proto/tfproto.proto
#     -> Sources/TFProto/tfproto.pb-c.c
#     -> Sources/TFProto/include/tfproto.pb-c.h
#
# usage: scripts/regen-proto.sh [OUTPUT_DIR]
#   OUTPUT_DIR defaults to Sources/TFProto; the .c goes to OUTPUT_DIR and the
#   .h to OUTPUT_DIR/include (SwiftPM's public-header directory).
#
# Output is deterministic for a given protoc-c version: protoc-c runs from the
# proto directory on a relative file name, so no machine paths end up in the
# generated comments. The committed files were made with protoc-c 1.4.1
# (Debian/Ubuntu package protobuf-c-compiler); ProtoDecodingTests checks that
# this script reproduces them byte for byte.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-"$root/Sources/TFProto"}

if ! command -v protoc-c >/dev/null 2>&1; then
    echo "regen-proto.sh: protoc-c not found (apt-get install protobuf-c-compiler)" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

(cd "$root/Sources/TFProto/proto" && protoc-c --proto_path=. --c_out="$tmp" tfproto.proto)

mkdir -p "$out/include"
cp "$tmp/tfproto.pb-c.c" "$out/tfproto.pb-c.c"
cp "$tmp/tfproto.pb-c.h" "$out/include/tfproto.pb-c.h"
echo "regen-proto.sh: wrote $out/tfproto.pb-c.c and $out/include/tfproto.pb-c.h ($(protoc-c --version | head -n 1))"
