#!/usr/bin/env bash
# `make wheel`: the static binary (scripts/static.sh), then the wheel around it
# (scripts/build-wheel.py, standard library only). Prints the wheel's path last.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(scripts/static.sh | tail -n 1)
wheel=$(python3 scripts/build-wheel.py "$bin" | tail -n 1)
echo "wheel: $(basename "$wheel"), $(stat -c %s "$wheel") bytes" >&2
echo "$wheel"
