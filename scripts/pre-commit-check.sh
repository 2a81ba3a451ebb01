#!/usr/bin/env sh
# The pre-commit hook `tfrewrite-check` (.pre-commit-hooks.yaml; Docs/ci.md): runs
# `tfrewrite check OPTIONS MODEL` on every model pre-commit passes. pre-commit appends the file
# names after the hook's `args`, so options are told apart from files by their leading dash:
# give them as --name=value (`--rules=micro_speech`, `--arena-limit=65536`).
# Exits 2 when any model is unreadable or over --arena-limit, else 1 when any has findings,
# else 0 (pre-commit fails the commit on anything but 0).
if ! command -v tfrewrite >/dev/null 2>&1; then
    echo "tfrewrite-check: tfrewrite is not on PATH (pip install tfrewrite-*.whl, or build it: make static)" >&2
    exit 2
fi
options=""
for arg in "$@"; do
    case "$arg" in
        -*) options="$options $arg" ;;
    esac
done
status=0
for arg in "$@"; do
    case "$arg" in
        -*) continue ;;
    esac
    # $options is split on purpose: each is one --name=value word.
    # shellcheck disable=SC2086
    tfrewrite check $options -- "$arg"
    rc=$?
    if [ "$rc" -gt "$status" ]; then status=$rc; fi
done
exit "$status"
