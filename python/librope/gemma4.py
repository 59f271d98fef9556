"""Drop-in for Gemma 4's RoPE apply, transformers.models.gemma4.modeling_gemma4:

    from librope.gemma4 import apply_rotary_pos_emb
    query_states = apply_rotary_pos_emb(query_states, cos, sin, unsqueeze_dim=2)

One tensor per call (Gemma 4 rotates q and k separately); rotate_half over the whole head. On
full-attention layers the rows come from the `proportional` rope type: int(0.25·head_dim/2) live
angles, the rest cos 1 / sin 0 (identity pairs), all passed as HF gives them."""
from . import _family


def apply_rotary_pos_emb(x, cos, sin, unsqueeze_dim=1):
    """Gemma 4's `apply_rotary_pos_emb(x, cos, sin, unsqueeze_dim=1)`: x (batch, heads, seq,
    head_dim) for unsqueeze_dim=1 or (batch, seq, heads, head_dim) for 2; cos/sin (batch, seq,
    head_dim) or (seq, head_dim) as Gemma4TextRotaryEmbedding returns them (cat(freqs, freqs),
    attention factor included). x·cos + rotate_half(x)·sin, pairs (i, i + head_dim/2).
    Returns a new tensor (array) of x's dtype, arithmetic in float32; differentiable in x."""
    where = "librope.gemma4.apply_rotary_pos_emb"
    layout = _family.layout_of(unsqueeze_dim, where)
    n, c, s = _family.duplicated_half(cos, sin, where)
    if (c[..., :n] != c[..., n:]).any() or (s[..., :n] != s[..., n:]).any():
        raise ValueError(f"{where}: cos/sin halves differ; Gemma 4's rows are cat(freqs, freqs)")
    if len(getattr(x, "shape", ())) != 4 or x.shape[-1] != 2 * n:
        raise ValueError(f"{where}: x's head_dim must equal cos's width {2 * n} (rotate_half over the whole "
                         f"head), got shape {tuple(getattr(x, 'shape', ()))}")
    return _family.rotate(x, c[..., :n], s[..., :n], n, "half", layout, where)
