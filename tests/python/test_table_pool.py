"""librope.Table(f, n) built over a pool (rope_table_create_pool): the same bits as on one thread,
and bad threads= arguments refused with a Python exception."""
import numpy as np
import pytest

import librope

F = librope.freqs(rope_theta=10000.0, head_dim=64)
YARN = librope.freqs(rope_theta=1e6, head_dim=128, type="yarn", factor=4.0,
                     original_max_position_embeddings=32768)
# 20001 rows = 313 blocks of 64 (the last one partial): enough for the library to split the
# accurate table over 2 threads (it needs 16 blocks per thread)
N = 20001


def _same_bits(a, b):
    assert a.rows == b.rows and a.n_freqs == b.n_freqs
    for x, y in ((a.cos, b.cos), (a.sin, b.sin)):
        assert x.dtype == np.float32 and x.shape == y.shape
        np.testing.assert_array_equal(x.view(np.uint32), y.view(np.uint32))


@pytest.mark.parametrize("f", [F, YARN], ids=["default", "yarn"])
@pytest.mark.parametrize("compat", [False, True], ids=["accurate", "compat"])
def test_table_on_two_threads_is_bit_identical(f, compat):
    one = librope.Table(f, N, compat=compat, threads=1)
    _same_bits(librope.Table(f, N, compat=compat, threads=2), one)
    before = librope.get_num_threads()
    librope.set_num_threads(2)  # threads=None: the pool apply uses
    try:
        assert librope.get_num_threads() == 2
        _same_bits(librope.Table(f, N, compat=compat), one)
    finally:
        librope.set_num_threads(before)
    # and the rows are the table-free cos/sin of the same positions
    cos, sin = librope.cos_sin(f, N, compat=compat)
    np.testing.assert_array_equal(one.cos.view(np.uint32), cos.view(np.uint32))
    np.testing.assert_array_equal(one.sin.view(np.uint32), sin.view(np.uint32))
    assert one.attention_factor == f.attention_factor


@pytest.mark.parametrize("threads, exc, words", [
    (-1, ValueError, "threads must be in [0, 256]"),
    (257, ValueError, "threads must be in [0, 256]"),
    (2.0, TypeError, "threads must be an integer"),
    (True, TypeError, "threads must be an integer"),
    ("2", TypeError, "threads must be an integer"),
    (1 << 64, OverflowError, "threads"),
])
def test_bad_threads_raise(threads, exc, words):
    with pytest.raises(exc) as e:
        librope.Table(F, 100, threads=threads)
    assert words in str(e.value)


def test_threads_with_listed_positions_or_no_rows_raise():
    with pytest.raises(ValueError, match="applies to Table\\(f, n\\) only"):
        librope.Table(F, [0, 5, 9], threads=2)
    with pytest.raises(librope.RopeError, match="rope_table_create_pool"):
        librope.Table(F, 0, threads=2)
    with pytest.raises(TypeError, match="librope.Freqs"):
        librope.Table(None, 100, threads=2)
