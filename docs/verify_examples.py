#!/usr/bin/env python3
"""The worked examples of docs/verify.md: for each fault, an engine output built with NumPy from
the float64 formula with exactly that fault, and what `rope verify` says about it.

    python3 docs/verify_examples.py build/rope > /tmp/examples.md

Needs numpy only; run from the repository root (it reads tests/data/configs/).
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

ROPE = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/rope")
CONF = "tests/data/configs"
TMP = tempfile.mkdtemp(prefix="rope-verify-")
POS = np.concatenate([np.arange(64), np.unique(np.geomspace(64, 60000, 40).astype(np.int64))])
np.save(os.path.join(TMP, "pos.npy"), POS)


def inv_freq(base, dim):
    return base ** (-np.arange(0, dim, 2, dtype=np.float64) / dim)


def hf_f32(inv, pos):
    """Hugging Face's float32 path: float32 theta, one float32 product, float32 cos/sin."""
    a = inv.astype(np.float32)[None, :] * pos.astype(np.float32)[:, None]
    return np.cos(a), np.sin(a)


def bf16(x):
    """Round float32 to bfloat16 (nearest even) and back."""
    u = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    return u.astype(np.uint32).view(np.float32)


def f16(x):
    return np.asarray(x, np.float32).astype(np.float16).astype(np.float32)


def save(name, c, s):
    pc, ps = os.path.join(TMP, name + "_cos.npy"), os.path.join(TMP, name + "_sin.npy")
    np.save(pc, np.asarray(c, np.float32))
    np.save(ps, np.asarray(s, np.float32))
    return ["--cos", pc, "--sin", ps, "--positions", os.path.join(TMP, "pos.npy")]


def show(title, cfg, args):
    out = subprocess.run([ROPE, "verify", os.path.join(CONF, cfg)] + args, capture_output=True, text=True)
    shown = " ".join(a if not a.startswith(TMP) else os.path.basename(a) for a in args)
    print(f"### {title}\n\n```\n$ rope verify {CONF}/{cfg} {shown}")
    body = []
    for line in out.stdout.splitlines():
        if line.startswith(("table:", "pairs:")):
            break
        if line.strip():
            body.append(line)
    print("\n".join(body))
    print(f"(exit {out.returncode})\n```\n")


def rotate(x, c, s, half):
    """x (batch, seq, heads, D): the first 2*nf dims rotated by (c, s) (seq, nf) in float64."""
    nf = c.shape[-1]
    x = x.astype(np.float64)
    y = x.copy()
    if half:
        a, b = x[..., :nf], x[..., nf:2 * nf]
    else:
        a, b = x[..., 0:2 * nf:2], x[..., 1:2 * nf:2]
    c, s = c[None, :, None, :], s[None, :, None, :]
    ra, rb = a * c - b * s, b * c + a * s
    if half:
        y[..., :nf], y[..., nf:2 * nf] = ra, rb
    else:
        y[..., 0:2 * nf:2], y[..., 1:2 * nf:2] = ra, rb
    return y.astype(np.float32)


def pairs(name, x, y, pos):
    paths = [os.path.join(TMP, name + s) for s in ("_in.npy", "_out.npy", "_pos.npy")]
    np.save(paths[0], x)
    np.save(paths[1], y)
    np.save(paths[2], pos.astype(np.int64))
    return ["--q-in", paths[0], "--q-out", paths[1], "--positions", paths[2]]


def main():
    rng = np.random.default_rng(0)
    th = inv_freq(1e4, 128)
    ang = np.outer(POS, th)
    show("right (Hugging Face's float32 path)", "llama2_7b.json", save("hf", *hf_f32(th, POS)))
    ts = np.float32(np.float32(1e4) ** np.float32(-2.0 / 128))
    gg = np.empty(ang.shape, np.float32)
    th32 = POS.astype(np.float32)
    for i in range(64):  # ggml: theta = position, then theta *= theta_scale pair after pair
        gg[:, i] = th32
        th32 = (th32 * ts).astype(np.float32)
    show("right (ggml / llama.cpp float32 recipe)", "llama2_7b.json", save("gg", np.cos(gg), np.sin(gg)))
    show("halves swapped (rotation direction)", "llama2_7b.json", save("neg", np.cos(ang), -np.sin(ang)))
    show("cos and sin swapped", "llama2_7b.json", save("swap", np.sin(ang), np.cos(ang)))
    show("positions offset by k", "llama2_7b.json", save("off", *hf_f32(th, POS + 1)))
    show("wrong base", "llama2_7b.json", save("base", *hf_f32(inv_freq(1e6, 128), POS)))
    show("bf16 table", "llama2_7b.json", save("tbf", bf16(np.cos(ang)), bf16(np.sin(ang))))
    show("f16 table", "llama2_7b.json", save("tf16", f16(np.cos(ang)), f16(np.sin(ang))))
    a16 = bf16(bf16(th.astype(np.float32))[None, :] * bf16(POS.astype(np.float32))[:, None])
    show("bf16 angle (autocast)", "llama2_7b.json", save("abf", np.cos(a16), np.sin(a16)))
    p16 = POS[POS < 60000]
    h = f16(f16(th.astype(np.float32))[None, :] * f16(p16.astype(np.float32))[:, None])
    args = save("af16", np.cos(h), np.sin(h))
    np.save(os.path.join(TMP, "pos16.npy"), p16)
    args[-1] = os.path.join(TMP, "pos16.npy")
    show("f16 angle", "llama2_7b.json", args)
    # scaling faults: Llama 3.1 (llama3 x8), LLaMA-2-7B-32K (linear x8), Qwen2.5 + yarn x4, dynamic
    show("scaling missing (Llama 3.1 run as plain RoPE)", "llama31_8b.json",
         save("l3", *hf_f32(inv_freq(5e5, 128), POS)))
    show("wrong factor (linear x8 model run with x4)", "llama2_7b_32k_linear.json",
         save("lin", *hf_f32(th / 4, POS)))
    af = 0.1 * np.log(4) + 1  # yarn's attention factor for x4, as HF computes it
    show("wrong type (yarn model run as linear)", "qwen25_7b_instruct_yarn.json",
         save("yl", *[af * v for v in hf_f32(inv_freq(1e6, 128) / 4, POS)]))
    L, dim = POS.max() + 1, 128
    base_wrong = 1e4 * ((2 * 8192 / 4096) - 1) ** (dim / (dim - 2))
    show("dynamic NTK at the wrong length (8192 instead of the call's)", "llama2_7b_dynamic.json",
         save("dyn", *hf_f32(inv_freq(base_wrong, 128), POS)))
    # longrope (Phi-3-mini-128k): a call past 4096 takes the long factors for every position; the
    # engine kept the short ones. HF's cos/sin include the attention factor sqrt(1 + ln 32 / ln 4096).
    phi = json.load(open(os.path.join(CONF, "phi3_mini_128k_instruct.json")))
    short = np.array(phi["rope_scaling"]["short_factor"])
    af_l = np.sqrt(1 + np.log(131072 / 4096) / np.log(4096))
    th_s = inv_freq(1e4, 96) / short
    show("longrope: the short factors for a call of 60001 tokens", "phi3_mini_128k_instruct.json",
         save("lr", *[af_l * v for v in hf_f32(th_s, POS)]))
    show("cos/sin scaled by a wrong constant", "llama2_7b.json", save("amp", 0.5 * np.cos(ang), 0.5 * np.sin(ang)))
    out = subprocess.run([ROPE, "inspect", os.path.join(CONF, "qwen25_7b_instruct_yarn.json"), "--json"],
                         capture_output=True, text=True)
    th_y = np.array(json.loads(out.stdout)["inv_freq"])
    ay = np.outer(POS, th_y)
    show("yarn right (cos/sin times the attention factor)", "qwen25_7b_instruct_yarn.json",
         save("yok", af * np.cos(ay), af * np.sin(ay)))
    show("attention factor missing", "qwen25_7b_instruct_yarn.json", save("yaf", np.cos(ay), np.sin(ay)))
    show("attention factor applied twice", "qwen25_7b_instruct_yarn.json",
         save("yaf2", af * af * np.cos(ay), af * af * np.sin(ay)))
    # pairs: convention, partial rotary over the wrong dims / width (GPT-NeoX 24 of 96)
    qp = np.arange(500, 532)
    x = rng.standard_normal((1, 32, 4, 128)).astype(np.float32)
    c, s = np.cos(np.outer(qp, th)), np.sin(np.outer(qp, th))
    show("wrong convention (q rotated in interleaved pairs)", "llama2_7b.json",
         pairs("conv", x, rotate(x, c, s, False), qp))
    thn = inv_freq(1e4, 24)
    xn = rng.standard_normal((1, 32, 4, 96)).astype(np.float32)
    cn, sn = np.cos(np.outer(qp, thn)), np.sin(np.outer(qp, thn))
    yl = xn.copy()
    yl[..., 72:] = rotate(xn[..., 72:], cn, sn, True)
    show("partial rotary over the wrong dims (the last 24 of 96)", "gpt_neox_20b.json", pairs("nl", xn, yl, qp))
    thf = inv_freq(1e4, 96)
    show("partial rotary ignored (all 96 dims rotated)", "gpt_neox_20b.json",
         pairs("nf", xn, rotate(xn, np.cos(np.outer(qp, thf)), np.sin(np.outer(qp, thf)), True), qp))
    # per layer: Gemma 3 1B (sliding 1e4, global 1e6, head_dim 256), Gemma 4 E2B's full-attention
    # layers (proportional: 64 live frequencies of 256 over the whole 512-dim head), SmolLM3 NoPE
    gpos = POS[POS < 30000]
    np.save(os.path.join(TMP, "gpos.npy"), gpos)
    args = save("g3", *hf_f32(inv_freq(1e6, 256), gpos))
    args[-1] = os.path.join(TMP, "gpos.npy")
    show("sliding layer given the global base (Gemma 3, layer 0)", "gemma3_1b.json", ["--layer", "0"] + args)
    x4 = rng.standard_normal((1, 32, 2, 512)).astype(np.float32)
    th64 = inv_freq(1e6, 128)  # the 64 live frequencies as a RoPE 128 wide, paired (i, i+64)
    y4 = x4.copy()
    y4[..., :128] = rotate(x4[..., :128], np.cos(np.outer(qp, th64)), np.sin(np.outer(qp, th64)), True)
    show("Gemma 4 proportional built 128 wide (full-attention layer 5)", "gemma4_e2b.json",
         ["--layer", "5"] + pairs("g4", x4, y4, qp))
    xs = rng.standard_normal((1, 32, 4, 128)).astype(np.float32)
    ths = inv_freq(5e6, 128)
    show("NoPE layer rotated (SmolLM3 layer 3: no_rope_layers read with the wrong polarity)", "smollm3_3b.json",
         ["--layer", "3"] + pairs("s3", xs, rotate(xs, np.cos(np.outer(qp, ths)), np.sin(np.outer(qp, ths)), True), qp))
    show("RoPE layer left unrotated (SmolLM3 layer 0)", "smollm3_3b.json", ["--layer", "0"] + pairs("s0", xs, xs, qp))
    show("random numbers", "llama2_7b.json", save("rnd", rng.uniform(-1, 1, ang.shape), rng.uniform(-1, 1, ang.shape)))


if __name__ == "__main__":
    main()
