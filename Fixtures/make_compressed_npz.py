"""Writes the np.savez_compressed fixtures (numpy only; deterministic: zipfile stamps a fixed
date and numpy's deflate output depends only on the data and zlib's level).

    .venv/conformance/bin/python Fixtures/make_compressed_npz.py

- calib/micro_speech_calib_compressed.npz: calib/micro_speech_calib.npy, compressed, under the
  micro_speech input's name, for `--calibration`.
- npz/compressed_two.npz: two small arrays (float32 [3, 4] and int8 [5]) for the reader tests.
"""
import pathlib

import numpy as np

here = pathlib.Path(__file__).parent
calib = np.load(here / "calib" / "micro_speech_calib.npy")
np.savez_compressed(here / "calib" / "micro_speech_calib_compressed.npz", input=calib)
(here / "npz").mkdir(exist_ok=True)
np.savez_compressed(here / "npz" / "compressed_two.npz",
                    a=np.arange(12, dtype=np.float32).reshape(3, 4) / 4,
                    b=np.array([-128, -1, 0, 1, 127], dtype=np.int8))
