"""Drop-in for DeepSeek-V3's `rope_interleave` apply, transformers.models.deepseek_v3:

    from librope.deepseek_v3 import apply_rotary_pos_emb_interleave
    q_rot, k_rot = apply_rotary_pos_emb_interleave(q_rot, k_rot, cos, sin)

The rope part of each head holds interleaved pairs (2i, 2i+1); the result is written
de-interleaved [even | odd] (librope's style "deinterleave", one pass, no intermediate copy).
For the [nope | rope] head of MLA without slicing, use librope.apply(view, style="deinterleave",
out=view) on the rope slice (a strided view)."""
from . import _family


def apply_rotary_pos_emb_interleave(q, k, cos, sin, position_ids=None, unsqueeze_dim=1):
    """DeepSeek-V3's `apply_rotary_pos_emb_interleave(q, k, cos, sin, position_ids=None,
    unsqueeze_dim=1)`: q/k (batch, heads, seq, d) for unsqueeze_dim=1 or (batch, seq, heads, d)
    for 2; cos/sin (batch, seq, d) or (seq, d) as DeepseekV3RotaryEmbedding returns them, of
    which only the first half is read, as transformers does. Pair i = (x[2i], x[2i+1]) goes to
    (out[i], out[i + d/2]): out = cat(x_even·cos − x_odd·sin, x_odd·cos + x_even·sin).
    position_ids is ignored, as in transformers. Returns new (q_embed, k_embed) of q's and k's
    dtypes, arithmetic in float32; differentiable in q and k (torch)."""
    del position_ids
    where = "librope.deepseek_v3.apply_rotary_pos_emb_interleave"
    layout = _family.layout_of(unsqueeze_dim, where)
    n, c, s = _family.duplicated_half(cos, sin, where)
    out = []
    for x in (q, k):
        if len(getattr(x, "shape", ())) != 4 or x.shape[-1] != 2 * n:
            raise ValueError(f"{where}: q/k's last dim must equal cos's width {2 * n}, got shape "
                             f"{tuple(getattr(x, 'shape', ()))}")
        out.append(_family.rotate(x, c[..., :n], s[..., :n], n, "deinterleave", layout, where))
    return tuple(out)
