#!/usr/bin/env python3
"""Builds dist/tfrewrite-VERSION-py3-none-PLATFORM.whl around a static tfrewrite binary, with the
Python standard library only (zipfile, hashlib): no build backend, no new dependency.

    scripts/build-wheel.py BINARY [--out-dir dist]

The wheel holds the package `tfrewrite` (Python/tfrewrite: convert/check/memory over the binary)
and the binary as scripts data (`tfrewrite-VERSION.data/scripts/tfrewrite`), which pip installs
into the environment's bin folder, as ruff and uv ship theirs. The version is the one in
Sources/Support/Version.swift (and must be what `BINARY --version` prints). The platform tag
follows what the binary needs at run time (readelf): see `platform_tag`. The archive is
reproducible: sorted entries, fixed timestamps (SOURCE_DATE_EPOCH, default 1980-01-01).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE_DIR = REPO / "Python" / "tfrewrite"
VERSION_SOURCE = REPO / "Sources" / "Support" / "Version.swift"
NAME = "tfrewrite"

# A fully static executable needs no libc at all, only a Linux kernel at least as new as the ELF
# ABI note says (glibc's static startup code: 3.2.0 for Debian 12's glibc 2.36). The oldest
# manylinux whose reference distribution has such a kernel is manylinux2014 = manylinux_2_17
# (CentOS 7, kernel 3.10; PEP 599); manylinux2010 (CentOS 6) has 2.6.32. musllinux_1_1 (PEP 656)
# covers Alpine and other musl systems, where a static binary runs just as well.
STATIC_TAGS = "manylinux_2_17_x86_64.manylinux2014_x86_64.musllinux_1_1_x86_64"
STATIC_KERNEL_FLOOR = (3, 10)


class BuildError(Exception):
    pass


def read_version() -> str:
    match = re.search(r'static let string = "([^"]+)"', VERSION_SOURCE.read_text())
    if not match:
        raise BuildError(f"{VERSION_SOURCE}: no `static let string = \"...\"`")
    return match.group(1)


def readelf(binary: Path, *flags: str) -> str:
    try:
        return subprocess.run(["readelf", "-W", *flags, str(binary)], check=True,
                              capture_output=True, text=True).stdout
    except FileNotFoundError:
        raise BuildError("readelf (binutils) is needed to read the binary's requirements")
    except subprocess.CalledProcessError as e:
        raise BuildError(f"{binary}: readelf {' '.join(flags)} failed: {e.stderr.strip()}")


def platform_tag(binary: Path) -> str:
    """The wheel's platform tag for what `binary` needs at run time.

    Fully static (no program interpreter, no dynamic section): STATIC_TAGS, after checking the
    ELF ABI note's kernel floor. Dynamic with glibc only: manylinux_2_Y_x86_64 for the newest
    GLIBC_2.Y symbol version it needs (PEP 600). Anything else (other shared libraries) is
    refused: the wheel would not run where pip would install it."""
    header = readelf(binary, "-h")
    if "Advanced Micro Devices X86-64" not in header:
        raise BuildError(f"{binary}: not an x86-64 ELF executable")
    if "Requesting program interpreter" not in readelf(binary, "-l"):
        note = re.search(r"OS: Linux, ABI: (\d+)\.(\d+)", readelf(binary, "-n"))
        if note and (int(note.group(1)), int(note.group(2))) > STATIC_KERNEL_FLOOR:
            raise BuildError(f"{binary}: needs Linux {note.group(1)}.{note.group(2)}, newer than "
                             f"manylinux2014's kernel {STATIC_KERNEL_FLOOR}")
        return STATIC_TAGS
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", readelf(binary, "-d"))
    glibc = {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1",
             "ld-linux-x86-64.so.2", "libutil.so.1"}
    others = sorted(set(needed) - glibc)
    if others:
        raise BuildError(f"{binary}: needs shared libraries besides glibc: {', '.join(others)} "
                         "(build it with `make static`)")
    versions = {(int(a), int(b)) for a, b in re.findall(r"GLIBC_(\d+)\.(\d+)", readelf(binary, "-V"))}
    major, minor = max(versions, default=(2, 17))
    return f"manylinux_{major}_{max(minor, 17)}_x86_64"


def record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def metadata(version: str) -> str:
    return f"""Metadata-Version: 2.1
Name: {NAME}
Version: {version}
Summary: Convert and repair TensorFlow models for TensorFlow Lite Micro, without TensorFlow
Requires-Python: >=3.8
Provides-Extra: numpy
Requires-Dist: numpy; extra == "numpy"
Description-Content-Type: text/markdown

# tfrewrite

The `tfrewrite` command (a static binary) and a small Python API over it:

    import tfrewrite
    fixed = tfrewrite.convert("model.tflite", rules="micro_speech")   # .tflite bytes
    report = tfrewrite.check(fixed, rules="micro")                     # check --json as a dict
    arena = tfrewrite.memory(fixed)                                    # memory --json as a dict

Errors raise `tfrewrite.TfrewriteError` (`.message`, `.exit_code`). `calibration=` takes a path
or a numpy array (install the `numpy` extra).
"""


def build(binary: Path, out_dir: Path) -> Path:
    version = read_version()
    reported = subprocess.run([str(binary), "--version"], capture_output=True, text=True).stdout.strip()
    if reported != version:
        raise BuildError(f"{binary} --version prints {reported!r}, but {VERSION_SOURCE.name} says {version!r}")
    tag = platform_tag(binary)
    dist_info = f"{NAME}-{version}.dist-info"
    wheel_file = f"""Wheel-Version: 1.0
Generator: tfrewrite scripts/build-wheel.py
Root-Is-Purelib: false
""" + "".join(f"Tag: py3-none-{t}\n" for t in tag.split("."))

    # (archive name, bytes, executable)
    entries = [(f"{NAME}/{p.name}", p.read_bytes(), False)
               for p in sorted(PACKAGE_DIR.iterdir()) if p.suffix == ".py"]
    entries.append((f"{NAME}-{version}.data/scripts/{NAME}", binary.read_bytes(), True))
    entries.append((f"{dist_info}/METADATA", metadata(version).encode(), False))
    entries.append((f"{dist_info}/WHEEL", wheel_file.encode(), False))
    record = "".join(f"{name},{record_hash(data)},{len(data)}\n" for name, data, _ in entries)
    record += f"{dist_info}/RECORD,,\n"
    entries.append((f"{dist_info}/RECORD", record.encode(), False))

    epoch = max(int(os.environ.get("SOURCE_DATE_EPOCH", "315532800")), 315532800)
    stamp = time.gmtime(epoch)[:6]
    out_dir.mkdir(parents=True, exist_ok=True)
    wheel = out_dir / f"{NAME}-{version}-py3-none-{tag}.whl"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data, executable in entries:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            archive.writestr(info, data, compresslevel=9)
    # Written whole, then renamed: a failed build leaves no half wheel behind.
    partial = wheel.with_name(wheel.name + ".partial")
    partial.write_bytes(buffer.getvalue())
    os.replace(partial, wheel)
    return wheel


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binary", type=Path, help="the static tfrewrite binary (make static)")
    parser.add_argument("--out-dir", type=Path, default=REPO / "dist")
    args = parser.parse_args()
    try:
        wheel = build(args.binary, args.out_dir)
    except (BuildError, OSError) as e:
        print(f"build-wheel: error: {e}", file=sys.stderr)
        return 2
    print(wheel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
