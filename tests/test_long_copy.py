"""Input conversions of huge arrays run in pieces: same values as one NumPy call, Ctrl-C answered between pieces."""
import numpy as np
import pytest

from simengine import _long
from simengine._validate import as_count_array, as_float_array, as_int_array


@pytest.fixture
def tiny_pieces(monkeypatch):
    monkeypatch.setattr(_long, "COPY_BYTES", 40)  # 5 float64 values a piece


@pytest.mark.parametrize("shape", [(23,), (7, 3), (3, 11), (1, 50), (50, 1)])
@pytest.mark.parametrize("layout", ["int32", "fortran", "strided", "float32"])
def test_pieces_equal_one_call(tiny_pieces, shape, layout):
    rng = np.random.default_rng(3)
    base = rng.normal(size=shape) * 1e3
    arr = {
        "int32": base.astype(np.int32),
        "fortran": np.asfortranarray(base),
        "strided": np.repeat(base, 2, axis=-1)[..., ::2],
        "float32": base.astype(np.float32),
    }[layout]
    got = _long.contiguous(arr, np.float64)
    want = np.ascontiguousarray(arr, dtype=np.float64)
    assert got.flags.c_contiguous and got.dtype == np.float64 and got.shape == arr.shape
    assert np.array_equal(got, want)
    assert np.array_equal(as_float_array(arr, "x"), want)
    whole = np.round(base).astype(np.int64)
    for conv in (as_int_array, as_count_array):
        src = np.asfortranarray(whole) if whole.ndim == 2 else whole[::-1]
        assert np.array_equal(conv(src, "n", minimum=None), np.ascontiguousarray(src))


def test_nonfinite_found_in_any_piece(tiny_pieces):
    for where in (0, 17, 99):
        x = np.arange(100.0).astype(np.float32)
        x[where] = np.nan
        assert not _long.all_finite(x.astype(np.float64))
        with pytest.raises(ValueError, match="`x` must be finite"):
            as_float_array(x, "x")
    assert _long.all_finite(np.arange(100.0))


def test_zero_d_shapes_kept():
    assert as_float_array(np.float32(2.0), "x", ndim=0).shape == ()
    assert as_int_array(3, "n").shape == (1,)  # as np.ascontiguousarray always did
    assert as_count_array(3, "n").shape == ()


def test_ctrl_c_between_pieces(tiny_pieces, monkeypatch):
    """A SIGINT that arrives during a piece is answered before the next one, as KeyboardInterrupt."""
    import signal

    copies = []
    real_pieces = _long._pieces

    def pieces(shape, itemsize):
        out = real_pieces(shape, itemsize)
        copies.append(len(out))
        return out

    monkeypatch.setattr(_long, "_pieces", pieces)
    # Python's own handler, even under a runner started with SIGINT ignored (a background job)
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _interrupt_a_copy()
    finally:
        signal.signal(signal.SIGINT, old)
    assert copies == [200, 200]  # the interrupted copy (200 pieces planned), then the one after it


def _interrupt_a_copy():
    import os
    import signal

    arr = np.arange(1000, dtype=np.int32)

    class Interrupting(np.ndarray):
        """A view whose slicing sends SIGINT once: as if Ctrl-C came during the third piece."""
        sent = 0

        def __getitem__(self, item):
            Interrupting.sent += 1
            if Interrupting.sent == 3:
                os.kill(os.getpid(), signal.SIGINT)
            return np.asarray(self)[item]

    with pytest.raises(KeyboardInterrupt):
        _long.contiguous(arr.view(Interrupting), np.float64)
    assert Interrupting.sent == 3
    # the process is usable and the conversion gives the same values afterwards
    assert np.array_equal(_long.contiguous(arr, np.float64), arr.astype(np.float64))


def test_concatenate_in_pieces(tiny_pieces):
    rng = np.random.default_rng(1)
    parts = [rng.normal(size=n) for n in (0, 7, 23, 1)] + [np.arange(9, dtype=np.int32)]
    got = _long.concatenate(parts)
    assert got.dtype == np.float64 and np.array_equal(got, np.concatenate(parts))
    assert np.array_equal(_long.concatenate(parts[1:3], np.float64), np.concatenate(parts[1:3]))


def test_nested_long_calls_answer_ctrl_c_inside():
    """A long call run inside another's slice (a correction inside a simulation) sees the signal too."""
    import signal

    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            with _long.interruptible() as outer:
                with _long.interruptible() as inner:
                    outer._handler(signal.SIGINT, None)  # what the installed handler does on Ctrl-C
                    inner.check()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, old)


@pytest.mark.parametrize("value", [
    [0.5, 1, 2, 3.25, -1e300, 7, 8, 9, 10, 11],
    [1, 2, 3, 4, 5, 6, 7],
    [True, 2, 3, 4, 5],
    [[1.0, 2.0], [3, 4], [5, 6], [7, 8], [9, 10]],
    tuple(range(9)),
])
def test_long_lists_convert_in_pieces(monkeypatch, value):
    monkeypatch.setattr(_long, "LIST_ITEMS", 2)
    got, want = _long.asarray(value), np.asarray(value)
    assert got.dtype == want.dtype and got.shape == want.shape and np.array_equal(got, want)


def test_long_ragged_list_is_refused_as_before(monkeypatch):
    monkeypatch.setattr(_long, "LIST_ITEMS", 2)
    with pytest.raises(TypeError, match="ragged"):
        as_float_array([[1.0, 2.0], [3.0, 4.0], [5.0]], "x")
    assert np.array_equal(as_float_array([1, 2, 3, 4, 5], "x"), np.arange(1.0, 6.0))
