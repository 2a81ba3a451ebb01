#!/usr/bin/env bash
# `make static`: a fully static Linux x86-64 tfrewrite (no shared libraries at all: the Swift
# runtime and Foundation, glibc, and the system libraries below are linked in), for the wheel and
# for machines without the Swift toolchain. Built in .build-static (a release build of its own:
# the static flags reach every compile, so it does not share .build/release), then copied,
# stripped, to dist/tfrewrite. Prints that path last. Docs/cli.md, "Installing".
set -euo pipefail
cd "$(dirname "$0")/.."

# The system libraries of the SwiftPM system-library targets: one line per pkg-config module,
# then the libraries its static archive needs beyond what the module's .pc lists (the .so has them
# as NEEDED entries; the .a does not say). Under -static-executable SwiftPM's own -l flags pick
# the .a files; the extra ones go after them on the link line.
system_libraries=(
    "libprotobuf-c"           # CProtobufC
    "zlib"                    # CZlib
    "hdf5-serial sz aec z"    # CHDF5 (libhdf5.a needs libsz, libaec and zlib)
)

link_flags=()
for line in "${system_libraries[@]}"; do
    read -r module extras <<<"$line"
    if ! pkg-config --exists "$module"; then
        echo "static: pkg-config module $module not found (scripts/ensure-deps.sh installs the -dev packages)" >&2
        exit 2
    fi
    search=()
    for dir in $(pkg-config --libs-only-L "$module"); do search+=("${dir#-L}"); done
    search+=($(cc -print-search-dirs | sed -n 's/^libraries: =//p' | tr ':' ' '))
    for lib in $(pkg-config --libs-only-l "$module" | sed 's/-l//g') $extras; do
        found=""
        for dir in "${search[@]}"; do
            [[ -f "$dir/lib$lib.a" ]] && { found="$dir/lib$lib.a"; break; }
        done
        [[ -n "$found" ]] || { echo "static: lib$lib.a (for $module) not found in ${search[*]}" >&2; exit 2; }
    done
    for lib in $extras; do link_flags+=(-Xlinker "-l$lib"); done
done

start=$(date +%s)
swift build -c release --product tfrewrite --scratch-path .build-static \
    --static-swift-stdlib -Xswiftc -static-executable "${link_flags[@]}" >&2
bin=$(swift build -c release --scratch-path .build-static --show-bin-path)/tfrewrite

# Fully static: no program interpreter, no dynamic section.
if readelf -l "$bin" | grep -q "Requesting program interpreter" || readelf -d "$bin" | grep -q NEEDED; then
    echo "static: $bin is not fully static:" >&2
    readelf -d "$bin" | grep NEEDED >&2 || true
    exit 1
fi
mkdir -p dist
strip -o dist/tfrewrite.partial "$bin"
mv dist/tfrewrite.partial dist/tfrewrite
echo "static: built in $(( $(date +%s) - start )) s; $(stat -c %s "$bin") bytes, stripped $(stat -c %s dist/tfrewrite) bytes" >&2
echo "$PWD/dist/tfrewrite"
