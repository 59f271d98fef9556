"""Argument checks shared by the binding: every value is checked in Python before it reaches a
ctypes field, because ctypes neither rejects floats where C takes an integer (int() truncates)
nor checks ranges (a c_int64 field silently wraps 2**64 + 5 to 5), and a C string ends at the
first NUL ("default\\0x" would be read as "default")."""
import math
import numbers

import numpy as np

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def is_int(v):
    """A Python/NumPy integer that is not a bool."""
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_))


def int64(v, what, lo=INT64_MIN, hi=INT64_MAX):
    """v as a Python int in [lo, hi]: TypeError for non-integers (floats are not truncated),
    OverflowError beyond int64, ValueError outside [lo, hi]."""
    if not is_int(v):
        raise TypeError(f"{what} must be an integer, got {type(v).__name__} {v!r}")
    v = int(v)
    if not INT64_MIN <= v <= INT64_MAX:
        raise OverflowError(f"{what} = {v} is beyond the int64 range")
    if not lo <= v <= hi:
        raise ValueError(f"{what} must be in [{lo}, {hi}], got {v}")
    return v


def real(v, what):
    """v as a finite Python float (ints and floats only: no strings, no bools)."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{what} must be a number, got {type(v).__name__} {v!r}")
    try:
        f = float(v)
    except OverflowError:
        raise OverflowError(f"{what} = {v} does not fit a float64") from None
    if not math.isfinite(f):
        raise ValueError(f"{what} must be finite, got {v!r}")
    return f


def text(v, what):
    """v as ASCII bytes for a C string: a str without NUL."""
    if not isinstance(v, str):
        raise TypeError(f"{what} must be a string, got {type(v).__name__} {v!r}")
    if "\0" in v:
        raise ValueError(f"{what} contains a NUL character: {v!r}")
    try:
        return v.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError(f"{what} must be ASCII, got {v!r}") from None


def int64_array(v, what):
    """An integer array-like (list, tuple, NumPy array, torch tensor already turned into NumPy)
    as a C-contiguous int64 array. Floats, bools and complex are refused (never truncated);
    values beyond int64 (uint64 above 2**63 - 1, Python ints beyond 64 bits) are refused
    (never wrapped)."""
    if isinstance(v, np.ndarray):
        arr = v
    else:
        try:
            arr = np.asarray(v)
        except (OverflowError, ValueError) as e:  # ragged or oversized nested sequences
            raise ValueError(f"{what}: not a rectangular integer array ({e})") from None
    kind = arr.dtype.kind
    if kind == "O" or (kind == "f" and not isinstance(v, np.ndarray)):
        # Python ints beyond 64 bits become objects; [0, 2**63] becomes float64 (int64 and
        # uint64 have no common integer type): decide element by element
        if not isinstance(v, np.ndarray):
            arr = np.array(v, dtype=object)
        flat = arr.reshape(-1).tolist()
        for e in flat:
            int64(e, f"{what} element")
        arr = np.array(flat, dtype=np.int64).reshape(arr.shape)
    elif kind == "u":
        if arr.size and arr.dtype.itemsize >= 8 and int(arr.max()) > INT64_MAX:
            raise OverflowError(f"{what}: value {int(arr.max())} is beyond the int64 range")
    elif kind != "i":
        raise TypeError(f"{what} must be integers, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.int64)


def int32_array(v, what):
    """int64_array, then every value checked to fit a C int (never wrapped)."""
    arr = int64_array(v, what)
    if arr.size and (int(arr.min()) < -(1 << 31) or int(arr.max()) >= (1 << 31)):
        raise OverflowError(f"{what}: a value is beyond the int32 range")
    return arr.astype(np.int32)
