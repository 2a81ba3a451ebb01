"""Conformance of the signal-library custom ops (and the builtins the
micro_speech audio preprocessor uses) with TFLite Micro.

TFLM (PyPI `tflite-micro`, which registers the signal ops) is the oracle. Each
model gets a sequence of runs on one TFLM interpreter and one `tfrewrite run
--batch` (one interpreter, samples in order), so the state the spectral
subtraction keeps between invokes is compared too. Integer outputs must be
identical.

Models:
  - the corpus's audio_preprocessor_int8.tflite (TFLM's micro_speech audio
    front end) on audio-like frames (tones, chirps, noise, silence, clipping);
    skipped visibly when the corpus is absent;
  - one-op models built here (custom options as flexbuffers, the way the TF
    signal ops' converter writes them), one per kernel and shape/option case.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from flatbuffers import flexbuffers

import harness
import oracle
from test_interpreter import Net, S, T, OP, assert_conforms, run_ours

SEED = 20261206
AUDIO_MODEL = "audio_preprocessor_int8.tflite"


def audio_frames(rng, count, length=480, rate=16000):
    """Speech-like 16-bit audio cut into frames: two tones and a chirp with noise,
    switched between loud and near-silent every quarter second, plus a clipped
    frame, an all-zero frame and a frame of alternating −32768."""
    t = np.arange(count * length) / rate
    sig = (3000 * np.sin(2 * np.pi * 440 * t) + 1500 * np.sin(2 * np.pi * 1234 * t * (1 + t))
           + rng.normal(0, 400, t.size))
    sig *= np.where((t % 0.5) < 0.25, 1.0, 0.05)
    frames = np.clip(sig, -32768, 32767).astype(np.int16).reshape(count, length)
    if count > 5:
        frames[3] = 32767
        frames[4, ::2] = -32768
        frames[5] = 0
    return frames


def compare(model: Path, inputs: list, work: Path, select=None, skip_runs=0):
    """`select(k, array)` keeps the part of output k both runtimes define; the
    first `skip_runs` runs are not compared (outputs TFLM leaves unwritten)."""
    ours, err = run_ours(model, inputs, work)
    assert err is None, f"tfrewrite run failed: {err}"
    theirs = oracle.run("tflm", model, inputs)
    assert not isinstance(theirs, oracle.RunFailure), f"TFLM cannot run {model.name}: {theirs}"
    ours, theirs = ours[skip_runs:], theirs[skip_runs:]
    if select is not None:
        ours = [[select(k, a) for k, a in enumerate(run)] for run in ours]
        theirs = [[select(k, np.asarray(a)) for k, a in enumerate(run)] for run in theirs]
    return assert_conforms(model, ours, theirs)


# ---------------------------------------------------------------------------
# The micro_speech audio preprocessor
# ---------------------------------------------------------------------------

def _audio_model():
    corpus = harness.corpus_models()
    if corpus is None:
        pytest.skip(f"model corpus absent at {harness.CORPUS_DIR}")
    for m in corpus:
        if m.name == AUDIO_MODEL:
            return m
    pytest.skip(f"{AUDIO_MODEL} not in the corpus at {harness.CORPUS_DIR}")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_audio_preprocessor_streams_like_tflm(seed, tmp_path):
    """80 consecutive 30 ms frames: every int8 feature equal to TFLM's, with the
    noise estimate carried from frame to frame on both sides."""
    model = _audio_model()
    frames = audio_frames(np.random.default_rng(seed), 80)
    compare(model, [[f.reshape(1, 480)] for f in frames], tmp_path)


def test_audio_preprocessor_state_matters(tmp_path):
    """The comparison sees the carried state: frame 10 run on its own (fresh
    noise estimate) differs from frame 10 of the stream, on both runtimes."""
    model = _audio_model()
    frames = audio_frames(np.random.default_rng(1), 12)
    stream, err = run_ours(model, [[f.reshape(1, 480)] for f in frames], tmp_path / "a")
    assert err is None, err
    alone, err = run_ours(model, [[frames[10].reshape(1, 480)]], tmp_path / "b")
    assert err is None, err
    assert not np.array_equal(stream[10][0], alone[0][0])
    tflm_alone = oracle.run("tflm", model, [[frames[10].reshape(1, 480)]])
    np.testing.assert_array_equal(alone[0][0], tflm_alone[0][0])


# ---------------------------------------------------------------------------
# One-op models
# ---------------------------------------------------------------------------

def custom_model(code, build):
    """`build(net)` adds tensors and returns (inputs, outputs, options dict)."""
    n = Net()
    ins, outs, options = build(n)
    return n.build(OP.CUSTOM, ins, outs, custom_code=code, custom_options=flexbuffers.Dumps(options))


def builtin_model(opcode, build):
    n = Net()
    ins, outs, _ = build(n)
    return n.build(opcode, ins, outs)


rng = np.random.default_rng(SEED)
RUNS = 24


def window(shape, weights, shift):
    def build(n):
        x = n.input(shape, T.INT16)
        w = n.tensor([len(weights)], T.INT16, data=np.asarray(weights, np.int16))
        return [x, w], [n.output(shape, T.INT16)], {"shift": shift}

    def inputs():
        size = int(np.prod(shape))
        return [[rng.integers(-32768, 32768, shape, dtype=np.int16) if r % 2
                 else audio_frames(rng, 1, size)[0].reshape(shape)] for r in range(RUNS)]
    return custom_model("SignalWindow", build), inputs


def hann_q12(n):
    return np.round(4096 * 0.5 * (1 - np.cos(2 * np.pi * np.arange(n) / n))).astype(np.int16)


def auto_scale(size):
    def build(n):
        x = n.input([size], T.INT16)
        return [x], [n.output([size], T.INT16), n.output([], T.INT32)], {}

    def inputs():
        runs = []
        for r in range(RUNS):
            amplitude = [0, 1, 3, 100, 5000, 16383, 16384, 32767][r % 8]
            x = rng.integers(-amplitude, amplitude + 1, size).astype(np.int16)
            if r == 9:
                x[5] = -32768   # the int16 maximum-magnitude quirk
            runs.append([x])
        return runs
    return custom_model("SignalFftAutoScale", build), inputs


def other_type_runs(ttype, shape):
    if ttype == T.INT32:
        return [[rng.integers(-2**31, 2**31, shape).astype(np.int32) >> (r % 4 * 8)] for r in range(RUNS)]
    return [[(rng.standard_normal(shape) * 10 ** (r % 4 - 1)).astype(np.float32)] for r in range(RUNS)]


def rfft(shape, fft_length, full_scale=True, ttype=T.INT16):
    out_shape = list(shape[:-1]) + [fft_length + 2]

    def build(n):
        x = n.input(shape, ttype)
        return [x], [n.output(out_shape, ttype)], {"T": ttype, "fft_length": fft_length}

    def inputs():
        if ttype != T.INT16:
            return other_type_runs(ttype, shape)
        runs = []
        for r in range(RUNS):
            if r % 3 == 0:
                x = rng.integers(-32768, 32768, shape, dtype=np.int16)
            else:
                x = audio_frames(rng, 1, int(np.prod(shape)))[0].reshape(shape)
                if full_scale:
                    x = (x.astype(np.int32) * 8).clip(-32768, 32767).astype(np.int16)
            runs.append([x])
        return runs
    return custom_model("SignalRfft", build), inputs


def irfft(shape, fft_length, ttype=T.INT16):
    out_shape = list(shape[:-1]) + [fft_length]

    def build(n):
        x = n.input(shape, ttype)
        return [x], [n.output(out_shape, ttype)], {"T": ttype, "fft_length": fft_length}

    def inputs():
        if ttype != T.INT16:
            return other_type_runs(ttype, shape)
        runs = []
        for r in range(RUNS):
            amplitude = [32767, 4000, 300][r % 3]
            runs.append([rng.integers(-amplitude, amplitude + 1, shape).astype(np.int16)])
        return runs
    return custom_model("SignalIrfft", build), inputs


def energy(bins, start, end):
    def build(n):
        x = n.input([2 * bins], T.INT16)
        return [x], [n.output([bins], T.UINT32)], {"end_index": end, "start_index": start}
    # TFLM writes only bins [start, end) and leaves the rest of the output as the arena held it.
    return (custom_model("SignalEnergy", build),
            lambda: [[rng.integers(-32768, 32768, 2 * bins, dtype=np.int16)] for _ in range(RUNS)],
            {"select": lambda k, a: a[start:end]})


def mel_config(bins, channels):
    """A filter bank layout like TF's signal.filter_bank_ops: channel i+1's
    weights ramp up where channel i's unweights ramp down."""
    edges = np.linspace(1, bins - 1, channels + 2).astype(int)
    starts, weight_starts, widths, weights = [], [], [], []
    for c in range(channels + 1):
        lo, hi = edges[c], edges[c + 1]
        starts.append(lo)
        weight_starts.append(len(weights))
        widths.append(hi - lo)
        weights.extend(np.linspace(0, 4096, hi - lo, endpoint=False).astype(int))
    weights = np.asarray(weights, np.int16)
    unweights = (4096 - weights).astype(np.int16)
    return [weights, unweights, np.asarray(starts, np.int16), np.asarray(weight_starts, np.int16), np.asarray(widths, np.int16)]


def filter_bank(bins, channels, big=False):
    config = mel_config(bins, channels)

    def build(n):
        x = n.input([bins], T.UINT32)
        consts = [n.tensor([len(c)], T.INT16, data=c) for c in config]
        return [x] + consts, [n.output([channels], T.UINT64)], {"num_channels": channels}
    top = 2**32 if big else 2**26
    return custom_model("SignalFilterBank", build), lambda: [[rng.integers(0, top, bins, dtype=np.uint64).astype(np.uint32)] for _ in range(RUNS)]


def filter_bank_sqrt(channels):
    def build(n):
        x = n.input([channels], T.UINT64)
        s = n.input([], T.INT32)
        return [x, s], [n.output([channels], T.UINT32)], {}

    def inputs():
        runs = []
        for r in range(RUNS):
            bits = rng.integers(1, 64)
            x = rng.integers(0, 2**63, channels, dtype=np.uint64) >> np.uint64(63 - bits)
            x[0] = [0, 1, 2**32 - 1, 2**32, 2**64 - 1, 2**62][r % 6]
            runs.append([x, np.array(r % 8, np.int32)])
        return runs
    return custom_model("SignalFilterBankSquareRoot", build), inputs


SPECTRAL_SUBTRACTION = {  # the micro_speech preprocessor's options
    "alternate_one_minus_smoothing": 15729, "alternate_smoothing": 655, "clamping": False,
    "min_signal_remaining": 819, "one_minus_smoothing": 15729, "smoothing": 655,
    "smoothing_bits": 10, "spectral_subtraction_bits": 14,
}


def spectral_subtraction(channels, **overrides):
    options = dict(SPECTRAL_SUBTRACTION, num_channels=channels, **overrides)

    def build(n):
        x = n.input([channels], T.UINT32)
        return [x], [n.output([channels], T.UINT32), n.output([channels], T.UINT32)], options

    def inputs():
        level = rng.integers(100, 20000, channels)
        return [[(level * rng.uniform(0.2, 3.0 if r % 5 else 20.0, channels)).astype(np.uint32)] for r in range(RUNS * 2)]
    return custom_model("SignalFilterBankSpectralSubtraction", build), inputs


def pcan_lut():
    """A gain table shaped like TF's pcan_op.py (three coefficients per octave)."""
    lut = np.zeros(125, np.int64)
    lut[0], lut[1], lut[2] = 8000, 7000, 6500
    for interval in range(2, 33):
        base = 4 * interval - 6
        if base + 2 < 125:
            lut[base] = max(1, int(30000 / interval**1.5))
            lut[base + 1] = -int(lut[base] * 0.3)
            lut[base + 2] = int(lut[base] * 0.05)
    return lut.astype(np.int16)


def pcan(channels, snr_shift):
    def build(n):
        x = n.input([channels], T.UINT32)
        noise = n.input([channels], T.UINT32)
        lut = n.tensor([125], T.INT16, data=pcan_lut())
        return [x, noise, lut], [n.output([channels], T.UINT32)], {"snr_shift": snr_shift}

    def inputs():
        runs = []
        for r in range(RUNS):
            scale = 2 ** int(rng.integers(0, 30))
            runs.append([rng.integers(0, 2**20, channels).astype(np.uint32),
                         (rng.integers(0, 2**31, channels) % (scale + 1)).astype(np.uint32)])
        return runs
    return custom_model("SignalPCAN", build), inputs


def filter_bank_log(channels, correction_bits, output_scale):
    def build(n):
        x = n.input([channels], T.UINT32)
        return [x], [n.output([channels], T.INT16)], {"input_correction_bits": correction_bits, "output_scale": output_scale}

    def inputs():
        runs = []
        for _ in range(RUNS):
            bits = rng.integers(0, 33, channels)
            x = (rng.integers(0, 2**32, channels, dtype=np.uint64) >> (32 - bits).astype(np.uint64)).astype(np.uint32)
            x[:3] = [0, 1, 2]
            runs.append([x])
        return runs
    return custom_model("SignalFilterBankLog", build), inputs


def cast(in_type, out_type, values):
    def build(n):
        x = n.input([len(values[0])], in_type)
        return [x], [n.output([len(values[0])], out_type)], None
    return builtin_model(OP.CAST, build), lambda: [[v] for v in values]


def div_int32(shape_a, shape_b, out_shape):
    def build(n):
        a = n.input(shape_a, T.INT32)
        b = n.input(shape_b, T.INT32)
        return [a, b], [n.output(out_shape, T.INT32)], None

    def inputs():
        runs = []
        for _ in range(RUNS):
            # INT32_MIN / −1 is left out: TFLM's C++ division traps on it (SIGFPE).
            a = rng.integers(-2**31 + 1, 2**31, shape_a).astype(np.int32)
            b = rng.choice([-7, -3, -1, 1, 2, 5, 64, 1000, 2**31 - 1], shape_b).astype(np.int32)
            runs.append([a, b])
        return runs
    return builtin_model(OP.DIV, build), inputs


def int16_stream(shape):
    return lambda: [[rng.integers(-32768, 32768, shape, dtype=np.int16)] for _ in range(RUNS)]


def framer(shape, frame_size, frame_step, prefill=True):
    out_shape = list(shape[:-1]) + [shape[-1] // frame_step, frame_size]

    def build(n):
        x = n.input(shape, T.INT16)
        return [x], [n.output(out_shape, T.INT16), n.output([], T.BOOL)], {
            "frame_size": frame_size, "frame_step": frame_step, "prefill": prefill}
    return custom_model("SignalFramer", build), int16_stream(shape)


def stacker(channels, left, right, step):
    def build(n):
        x = n.input([channels], T.INT16)
        return [x], [n.output([channels * (left + right + 1)], T.INT16), n.output([], T.BOOL)], {
            "num_channels": channels, "stacker_left_context": left, "stacker_right_context": right, "stacker_step": step}
    # Until the first stack is full TFLM leaves output 0 unwritten; from then on every run
    # compares (runs without a new stack keep the previous one on both sides).
    return custom_model("SignalStacker", build), int16_stream([channels]), {"skip_runs": right}


def delay(shape, length):
    def build(n):
        x = n.input(shape, T.INT16)
        return [x], [n.output(shape, T.INT16)], {"delay_length": length}
    return custom_model("SignalDelay", build), int16_stream(shape)


def overlap_add(ttype, shape, frame_step):
    out_shape = list(shape[:-2]) + [shape[-2] * frame_step]

    def build(n):
        x = n.input(shape, ttype)
        return [x], [n.output(out_shape, ttype)], {"T": ttype, "frame_step": frame_step}
    if ttype == T.INT16:
        return custom_model("SignalOverlapAdd", build), int16_stream(shape)
    return custom_model("SignalOverlapAdd", build), lambda: [[rng.standard_normal(shape).astype(np.float32)] for _ in range(RUNS)]


I16 = np.iinfo(np.int16)
MODELS = {
    "window_hann_q12": lambda: window([1, 480], hann_q12(480), 12),
    "window_two_frames_saturating": lambda: window([2, 64], rng.integers(-32768, 32768, 64).astype(np.int16), 3),
    "fft_auto_scale_480": lambda: auto_scale(480),
    "fft_auto_scale_7": lambda: auto_scale(7),
    "rfft_512_from_480": lambda: rfft([480], 512),
    "rfft_256_rows": lambda: rfft([3, 256], 256),
    "rfft_120_radix_4_3_5": lambda: rfft([2, 100], 120),
    "rfft_96_radix_4_4_3": lambda: rfft([96], 96),
    "rfft_20_radix_5_2": lambda: rfft([20], 20),
    "rfft_16_quiet": lambda: rfft([16], 16, full_scale=False),
    "irfft_512": lambda: irfft([514], 512),
    "irfft_120_rows": lambda: irfft([2, 122], 120),
    "irfft_96_wider_rows": lambda: irfft([3, 100], 96),
    "irfft_20": lambda: irfft([22], 20),
    "rfft_int32_512": lambda: rfft([480], 512, ttype=T.INT32),
    "rfft_int32_120_rows": lambda: rfft([2, 120], 120, ttype=T.INT32),
    "rfft_float32_512": lambda: rfft([480], 512, ttype=T.FLOAT32),
    "rfft_float32_60_rows": lambda: rfft([3, 50], 60, ttype=T.FLOAT32),
    "irfft_int32_256": lambda: irfft([258], 256, ttype=T.INT32),
    "irfft_int32_40_rows": lambda: irfft([2, 42], 40, ttype=T.INT32),
    "irfft_float32_512": lambda: irfft([514], 512, ttype=T.FLOAT32),
    "irfft_float32_30_rows": lambda: irfft([2, 32], 30, ttype=T.FLOAT32),
    "energy_all_bins": lambda: energy(257, 0, 257),
    "energy_middle_bins": lambda: energy(33, 4, 30),
    "filter_bank_40": lambda: filter_bank(257, 40),
    "filter_bank_6_full_range": lambda: filter_bank(33, 6, big=True),
    "filter_bank_square_root": lambda: filter_bank_sqrt(40),
    "spectral_subtraction_micro_speech": lambda: spectral_subtraction(40),
    "spectral_subtraction_clamping_odd": lambda: spectral_subtraction(7, clamping=True, alternate_smoothing=1000, alternate_one_minus_smoothing=15384),
    "pcan_shift_6": lambda: pcan(40, 6),
    "pcan_shift_12": lambda: pcan(9, 12),
    "filter_bank_log_micro_speech": lambda: filter_bank_log(40, 3, 64),
    "filter_bank_log_wide": lambda: filter_bank_log(16, 0, 1600),
    "framer_prefill_one_frame": lambda: framer([1, 160], 400, 160),
    "framer_prefill_rows": lambda: framer([2, 64], 48, 32),
    "stacker_context_2_1": lambda: stacker(4, 2, 1, 1),
    "stacker_step_2": lambda: stacker(3, 1, 2, 2),
    "stacker_no_context": lambda: stacker(5, 0, 0, 1),
    "delay_rows": lambda: delay([2, 16], 5),
    "delay_longer_than_frame": lambda: delay([8], 20),
    "overlap_add_int16": lambda: overlap_add(T.INT16, [2, 3, 8], 4),
    "overlap_add_float32": lambda: overlap_add(T.FLOAT32, [3, 10], 5),
    "cast_uint32_to_int32": lambda: cast(T.UINT32, T.INT32, [rng.integers(0, 2**32, 17, dtype=np.uint64).astype(np.uint32) for _ in range(RUNS)]),
    "cast_int32_to_uint32": lambda: cast(T.INT32, T.UINT32, [rng.integers(-2**31, 2**31, 17).astype(np.int32) for _ in range(RUNS)]),
    "cast_int16_to_int32": lambda: cast(T.INT16, T.INT32, [rng.integers(I16.min, I16.max + 1, 17).astype(np.int16) for _ in range(RUNS)]),
    "cast_int32_to_int8_wraps": lambda: cast(T.INT32, T.INT8, [rng.integers(-2**31, 2**31, 17).astype(np.int32) for _ in range(RUNS)]),
    "cast_float32_to_int32": lambda: cast(T.FLOAT32, T.INT32, [(rng.standard_normal(17) * 1e4).astype(np.float32) for _ in range(RUNS)]),
    "cast_int8_to_float32": lambda: cast(T.INT8, T.FLOAT32, [rng.integers(-128, 128, 17).astype(np.int8) for _ in range(RUNS)]),
    "div_int32": lambda: div_int32([40], [40], [40]),
    "div_int32_broadcast": lambda: div_int32([3, 5], [1], [3, 5]),
}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("signal_models")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_single_op_matches_tflm(name, model_dir, tmp_path):
    model, inputs, *how = MODELS[name]()
    path = model_dir / f"{name}.tflite"
    path.write_bytes(model)
    compare(path, inputs(), tmp_path, **(how[0] if how else {}))


def test_comparison_catches_a_different_option(model_dir, tmp_path):
    """The comparison can fail: the log of a model with another output_scale
    must not compare equal with TFLM's run of the original."""
    a, inputs = filter_bank_log(40, 3, 64)
    b, _ = filter_bank_log(40, 3, 65)
    (model_dir / "a.tflite").write_bytes(a)
    (model_dir / "b.tflite").write_bytes(b)
    runs = inputs()
    ours, err = run_ours(model_dir / "b.tflite", runs, tmp_path)
    assert err is None, err
    theirs = oracle.run("tflm", model_dir / "a.tflite", runs)
    with pytest.raises(AssertionError):
        assert_conforms(model_dir / "a.tflite", ours, theirs)
