"""librope as a PyTorch operator: `torch.ops.librope.apply`, registered through torch.library.

A custom op is opaque to torch.compile: Dynamo records one call in the graph instead of
breaking the graph at the ctypes call, and the fake implementation tells it the output's
shape, dtype and strides without running C. The backward is the same op with `inverse`
flipped (af·R(-θ) is the transpose of af·R(θ), and the other way round), so gradients of
any order go through the library too.

torch.library.custom_op appeared in PyTorch 2.4; with an older torch (Debian's 1.13) build()
returns None and the binding keeps its torch.autograd.Function path.
"""
from typing import Optional

import torch

OP_NAME = "librope::apply"


def available():
    lib = getattr(torch, "library", None)
    return lib is not None and hasattr(lib, "custom_op") and hasattr(lib, "register_autograd")


def build(impl, lookup, rows_impl):
    """Register librope::apply with impl(x, ids, offset, key, style, inverse, attention_factor,
    layout, rotary_dim) -> new tensor as its CPU kernel (lookup(key) is the Freqs/Table the
    key names), and librope::apply_rows (below). (None, None) where torch is too old."""
    if not available():
        return None, None

    @torch.library.custom_op(OP_NAME, mutates_args=(), device_types="cpu")
    def rope_apply(x: torch.Tensor, ids: Optional[torch.Tensor], offset: int, key: int, style: int,
                   inverse: bool, attention_factor: float, layout: str, rotary_dim: int) -> torch.Tensor:
        return impl(x, ids, offset, key, style, inverse, attention_factor, layout, rotary_dim)

    @rope_apply.register_fake
    def _(x, ids, offset, key, style, inverse, attention_factor, layout, rotary_dim):
        # the real kernel returns a new contiguous tensor of x's shape and dtype
        return x.new_empty(x.shape)

    def setup_context(ctx, inputs, output):
        x, ids, offset, key, style, inverse, af, layout, rotary_dim = inputs
        ctx.save_for_backward(ids)
        ctx.args = (offset, key, style, inverse, af, layout, rotary_dim)
        # the registry is weak: the graph keeps the Freqs/Table alive until the backward ran
        # (a Table made inline, `apply(x, table=Table(f, n))`, would be gone by then)
        ctx.source = lookup(key)

    def backward(ctx, grad):
        (ids,) = ctx.saved_tensors
        offset, key, style, inverse, af, layout, rotary_dim = ctx.args
        gx = rope_apply(grad, ids, offset, key, style, not inverse, af, layout, rotary_dim)
        return gx, None, None, None, None, None, None, None, None

    rope_apply.register_autograd(backward, setup_context=setup_context)
    return rope_apply, _build_rows(rows_impl)


def _build_rows(rows_impl):
    """librope::apply_rows(x, cos, sin, style, layout, hf, inverse): x rotated by caller-given
    rows, as the drop-ins take them (hf: Hugging Face's cos/sin, halves duplicated, (seq, R) or
    (batch, seq, R); else Meta's freqs_cis as real and imaginary parts, (seq, R/2)). The kernel
    checks the rows and builds a table from them on each call; inside torch.compile this keeps
    the NumPy/ctypes work out of the traced code. No gradient flows to cos/sin."""

    @torch.library.custom_op("librope::apply_rows", mutates_args=(), device_types="cpu")
    def rope_apply_rows(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, style: int, layout: str,
                        hf: bool, inverse: bool) -> torch.Tensor:
        return rows_impl(x, cos, sin, style, layout, hf, inverse)

    @rope_apply_rows.register_fake
    def _(x, cos, sin, style, layout, hf, inverse):
        return x.new_empty(x.shape)

    def setup_context(ctx, inputs, output):
        x, cos, sin, style, layout, hf, inverse = inputs
        ctx.save_for_backward(cos, sin)
        ctx.args = (style, layout, hf, inverse)

    def backward(ctx, grad):
        cos, sin = ctx.saved_tensors
        style, layout, hf, inverse = ctx.args
        return rope_apply_rows(grad, cos, sin, style, layout, hf, not inverse), None, None, None, None, None, None

    rope_apply_rows.register_autograd(backward, setup_context=setup_context)
    return rope_apply_rows
