"""Drop-in for GPT-J's (and CodeGen's) RoPE apply, transformers.models.gptj.modeling_gptj:

    from librope.gptj import apply_rotary_pos_emb
    q_rot = apply_rotary_pos_emb(q_rot, sin, cos)      # GPT-J's own argument order

GPT-J rotates interleaved pairs (2i, 2i+1) (`rotate_every_two`) of the first `rotary_dim`
features, which GPTJAttention slices off before the call."""
from . import _family


def apply_rotary_pos_emb(tensor, sin, cos):
    """GPT-J's `apply_rotary_pos_emb(tensor, sin, cos)`: tensor (batch, seq, heads, dim), sin and
    cos (batch, seq, dim/2) as GPTJ's `embed_positions[position_ids]` split in two (one angle per
    pair, not repeated). Pairs (2i, 2i+1) rotated: tensor·cos + rotate_every_two(tensor)·sin.
    Returns a new tensor (array) of tensor's dtype, arithmetic in float32; differentiable in
    tensor (torch). The tensor's last dim must be twice sin's, as GPT-J's broadcast requires."""
    where = "librope.gptj.apply_rotary_pos_emb"
    if len(getattr(tensor, "shape", ())) != 4:
        raise ValueError(f"{where}: tensor must be (batch, seq, heads, dim)")
    d = tensor.shape[-1]
    if d % 2:
        raise ValueError(f"{where}: odd last dim {d}")
    return _family.rotate(tensor, cos, sin, d // 2, "interleaved", "bshd", where)
