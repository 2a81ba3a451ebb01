#!/usr/bin/env bash
# `make test-wheel`: builds the static binary and the wheel (make wheel), installs the wheel into a
# fresh venv and uses it as a user without Swift would: PATH is the venv's bin plus /usr/bin:/bin,
# nothing in LD_LIBRARY_PATH, and the working folder is a temporary one (no Rules/ beside it).
# Checks `tfrewrite --version`, a CLI conversion, the Python API against the CLI's bytes
# (Tests/Wheel/check_wheel.py), and the binary alone in an empty chroot (as root).
# numpy (for the calibration-array check) comes from PyPI or pip's cache; without it that
# check is skipped, saying so.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

wheel=$(scripts/build-wheel.sh | tail -n 1)
version=$(sed -n 's/.*static let string = "\([^"]*\)".*/\1/p' Sources/Support/Version.swift)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== fresh venv: pip install $(basename "$wheel")"
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index "$wheel"
if "$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check numpy >/dev/null 2>&1; then
    have_numpy=1
else
    have_numpy=0
    echo "SKIP: numpy could not be installed into the venv (offline?): the calibration-array check is skipped"
fi

# The user's environment: no Swift toolchain anywhere.
run() { (cd "$work" && env -i HOME="$work" LANG=C.UTF-8 PATH="$work/venv/bin:/usr/bin:/bin" "$@"); }
if run sh -c 'command -v swift' >/dev/null; then echo "FAIL: swift is on the test PATH"; exit 1; fi
cmp "$work/venv/bin/tfrewrite" dist/tfrewrite || { echo "FAIL: the installed tfrewrite is not dist/tfrewrite"; exit 1; }
echo "ldd: $(ldd "$work/venv/bin/tfrewrite" 2>&1 | tr -s ' \t' ' ')"

echo "== the CLI from the venv"
got=$(run tfrewrite --version)
[[ $got == "$version" ]] || { echo "FAIL: tfrewrite --version printed '$got', want '$version'"; exit 1; }
echo "  ok: $(run sh -c 'command -v tfrewrite') --version: $got"
run tfrewrite "$repo/Fixtures/micro_speech_int8.tflite" --rules micro_speech -o cli.tflite
run tfrewrite check cli.tflite --rules micro_speech
run tfrewrite memory cli.tflite --json > "$work/memory.json"
if [[ $have_numpy == 1 ]]; then
    run tfrewrite "$repo/Fixtures/micro_speech_float.tflite" --quantize int8 \
        --calibration "$repo/Fixtures/calib/micro_speech_calib.npy" -o cli_int8.tflite -q
fi
# The same conversion by the debug build of this checkout, when there is one: the static binary
# must not convert differently.
if [[ -x .build/debug/tfrewrite ]]; then
    .build/debug/tfrewrite Fixtures/micro_speech_int8.tflite --rules micro_speech -o "$work/debug.tflite" -q
    cmp "$work/cli.tflite" "$work/debug.tflite" || { echo "FAIL: the static binary converts differently from .build/debug"; exit 1; }
    echo "  ok: same bytes as .build/debug/tfrewrite"
fi

# glibc linked statically still loads the host's NSS modules (and libc.so.6) for user and group
# lookups; with the host's glibc a different version that can crash. tfrewrite makes none: run
# as a user missing from /etc/passwd (where NSS falls through to e.g. libnss_systemd).
if [[ $(id -u) -eq 0 ]] && command -v strace >/dev/null && command -v setpriv >/dev/null; then
    chmod 755 "$work"
    nss=$(cd "$work" && setpriv --reuid=54321 --regid=54321 --clear-groups \
        strace -f -e trace=openat "$work/venv/bin/tfrewrite" "$repo/Fixtures/micro_speech_int8.tflite" \
        --rules micro_speech -o /dev/null -q 2>&1 | grep -E 'nsswitch|libnss|libc\.so' || true)
    [[ -z $nss ]] || { echo "FAIL: the static binary loads NSS modules:"; echo "$nss"; exit 1; }
    echo "  ok: no NSS lookups (strace, as uid 54321)"
else
    echo "SKIP: the NSS check needs root, strace and setpriv"
fi

echo "== the Python API from the venv"
run python "$repo/Tests/Wheel/check_wheel.py" "$repo" "$work" "$version"

echo "== the binary alone in an empty root (plus /proc, where the Swift runtime finds itself)"
chroot=$(PATH="$PATH:/usr/sbin:/sbin" command -v chroot || true)
mkdir -p "$work/root/proc"
if [[ $(id -u) -eq 0 && -n $chroot ]] && mount -t proc proc "$work/root/proc" 2>/dev/null; then
    trap 'umount "$work/root/proc"; rm -rf "$work"' EXIT
    cp dist/tfrewrite Fixtures/micro_speech_int8.tflite "$work/root/"
    env -i "$chroot" "$work/root" /tfrewrite /micro_speech_int8.tflite --rules micro_speech -o /out.tflite -q
    cmp "$work/root/out.tflite" "$work/cli.tflite"
    echo "  ok: converts in a chroot holding only the binary, the model and /proc (same bytes)"
else
    echo "SKIP: the chroot check needs root, chroot(8) and permission to mount /proc"
fi
echo "test-wheel: passed"
