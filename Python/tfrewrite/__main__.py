"""`python -m tfrewrite ARGS` runs the binary the wheel installed, as `tfrewrite ARGS` does."""

import os
import sys

from . import find_tfrewrite_bin

if __name__ == "__main__":
    binary = find_tfrewrite_bin()
    os.execv(binary, [binary, *sys.argv[1:]])
