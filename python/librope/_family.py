"""What the per-family drop-ins (librope.gptj, librope.gemma4, librope.deepseek_v3) share: the
cos/sin rows a family's rotary embedding gives, turned into a librope Table and the positions
that index it, then one librope.apply per tensor (differentiable for torch tensors)."""
import numpy as np

from . import Table, _dtype_code, _tensor, apply


def half_rows_table(cos, sin, batch, seq, n, where):
    """(Table, positions) for rows of one angle per pair: (seq, n) or (batch or 1, seq, n)."""
    c, s = Table._rows_arg(cos, "cos", where), Table._rows_arg(sin, "sin", where)
    if c.shape != s.shape:
        raise ValueError(f"{where}: cos and sin shapes differ: {c.shape} vs {s.shape}")
    if c.ndim == 2:
        c, s = c[None], s[None]
    if c.ndim != 3 or c.shape[1] != seq or c.shape[0] not in (1, batch) or c.shape[2] != n:
        raise ValueError(f"{where}: cos/sin {c.shape} must be (batch, seq, {n}) or (1, seq, {n}) "
                         f"for (batch, seq) = ({batch}, {seq})")
    cb = c.shape[0]
    table = Table.from_cos_sin(c.reshape(cb * seq, n), s.reshape(cb * seq, n))
    positions = None if cb == 1 else np.arange(cb * seq, dtype=np.int64).reshape(cb, seq)
    return table, positions


def layout_of(unsqueeze_dim, where):
    """HF's unsqueeze_dim: 1 = (batch, heads, seq, head_dim), 2 = (batch, seq, heads, head_dim)."""
    if isinstance(unsqueeze_dim, (bool, np.bool_)) or unsqueeze_dim not in (1, 2):
        raise ValueError(f"{where}: unsqueeze_dim must be 1 (b, h, s, d) or 2 (b, s, h, d), got {unsqueeze_dim!r}")
    return "bhsd" if unsqueeze_dim == 1 else "bshd"


def rotate(x, cos, sin, n, style, layout, where):
    """x rotated by the rows cos/sin (n angles each): a new tensor/array of x's dtype."""
    _dtype_code(x)
    if len(x.shape) != 4:
        raise ValueError(f"{where}: expected a 4-D tensor, got shape {tuple(x.shape)}")
    t = _tensor(x, layout)
    table, positions = half_rows_table(cos, sin, t.shape[0], t.shape[1], n, where)
    return apply(x, positions, style=style, table=table, attention_factor=1.0, layout=layout, rotary_dim=2 * n)


def duplicated_half(c, s, where):
    """n for HF rows cat(freqs, freqs) (width 2n, halves equal), and the first halves."""
    c, s = Table._rows_arg(c, "cos", where), Table._rows_arg(s, "sin", where)
    if c.shape != s.shape or c.ndim not in (2, 3) or c.shape[-1] % 2:
        raise ValueError(f"{where}: cos/sin must be (batch, seq, rotary_dim) of one shape, got {c.shape}, {s.shape}")
    n = c.shape[-1] // 2
    return n, c, s
