#!/usr/bin/env bash
# `rope inspect`, `rope table`, `rope apply` end to end: every bundled config's
# JSON parsed and checked against known values and the committed golden vectors
# (tests/golden, produced by Hugging Face transformers), apply against a numpy
# float64 rotate_half / interleaved reference and against HF's own outputs,
# round trips, and malformed inputs (exit 2 with a message, never a crash).
# Usage: bash tests/cli/test_inspect_table_apply.sh path/to/rope   (cwd: tests/)
set -euo pipefail
ROPE=${1:?usage: $0 path/to/rope}
cd "$(dirname "$0")/.."
exec /usr/bin/python3 - "$ROPE" <<'PY'
import json, math, os, shutil, subprocess, sys, tempfile
import numpy as np

ROPE = sys.argv[1]
CFG = "data/configs"
tmp = tempfile.mkdtemp(prefix="rope_cli_")
fails = 0
checks = 0

def check(cond, what):
    global fails, checks
    checks += 1
    if not cond:
        fails += 1
        print("FAIL:", what, file=sys.stderr)

def run(*args):
    p = subprocess.run([ROPE, *map(str, args)], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr

def run_ok(*args):
    rc, out, err = run(*args)
    if rc != 0:
        raise SystemExit("rope %s -> %d: %s" % (" ".join(map(str, args)), rc, err))
    return out

def expect_fail(what, *args):
    rc, out, err = run(*args)
    check(rc == 2, "%s: exit %d, expected 2 (stderr: %s)" % (what, rc, err.strip()))
    check(err.strip() != "", "%s: no error message" % what)

def inspect(name, *extra):
    return json.loads(run_ok("inspect", os.path.join(CFG, name), "--json", *extra))

# --------------------------------------------------------------- help
for sub in ("inspect", "table", "apply"):
    rc, out, _ = run(sub, "--help")
    check(rc == 0 and "usage: rope " + sub in out, sub + " --help")

# ------------------------------------------------------ inspect: known values
def theta64(base, d):
    return base ** (-np.arange(0, d, 2, dtype=np.float64) / d)

expect = {
    "llama2_7b.json":            dict(rope_type="default", rope_theta=1e4, rotary_dim=128, head_dim=128),
    "codellama_7b.json":         dict(rope_type="default", rope_theta=1e6, rotary_dim=128),
    "llama31_8b.json":           dict(rope_type="llama3", rotary_dim=128, num_key_value_heads=8,
                                      band_counts={"unscaled": 29, "blend": 6, "scaled": 29}),
    "llama32_1b.json":           dict(rope_type="llama3", rotary_dim=64, head_dim=64,
                                      band_counts={"unscaled": 15, "blend": 3, "scaled": 14}),
    "qwen25_7b_instruct_yarn.json": dict(rope_type="yarn", rotary_dim=128, num_key_value_heads=4,
                                      attention_factor=1.1386294361119890),
    "deepseek_v2_lite.json":     dict(rope_type="yarn", rotary_dim=64, head_dim=64, attn_head_dim=192,
                                      attention_factor=1.0, style="interleaved"),
    "phi3_mini_128k_instruct.json": dict(rope_type="longrope", config_rope_type="su", rotary_dim=96,
                                      attention_factor=math.sqrt(1 + math.log(32) / math.log(4096)),
                                      original_max_position_embeddings=4096),
    "gpt_neox_20b.json":         dict(rope_type="default", head_dim=96, rotary_dim=24, rope_theta=1e4),
    "smollm2_135m.json":         dict(rope_type="default", rope_theta=1e5, head_dim=64, rotary_dim=64,
                                      num_attention_heads=9, num_key_value_heads=3),
    "qwen2_vl_7b_instruct.json": dict(rope_type="default", config_rope_type="mrope",
                                      mrope_section=[16, 24, 24], rope_theta=1e6),
    "llama2_7b_32k_linear.json": dict(rope_type="linear", band_counts={"unscaled": 0, "blend": 0, "scaled": 64}),
    "llama2_7b_dynamic.json":    dict(rope_type="dynamic"),
    "gpt_oss_20b.json":          dict(rope_type="yarn", attention_factor=1.3465735902799727, rotary_dim=64),
    # per-layer models: the top-level keys describe the primary set (full attention if any)
    "gemma2_2b.json":            dict(rope_type="default", rope_theta=1e4, head_dim=256, primary_set="full_attention"),
    "gemma3_1b.json":            dict(rope_type="default", rope_theta=1e6, head_dim=256, primary_set="full_attention"),
    "gemma3_4b.json":            dict(rope_type="linear", rope_theta=1e6, head_dim=256, primary_set="full_attention"),
    "gemma4_e2b.json":           dict(rope_type="proportional", rope_theta=1e6, head_dim=512, rotary_dim=512,
                                      primary_set="full_attention"),
    "smollm3_3b.json":           dict(rope_type="default", rope_theta=5e6, head_dim=128, primary_set="full_attention"),
    "llama4_scout.json":         dict(rope_type="llama3", rope_theta=5e5, head_dim=128,
                                      primary_set="chunked_attention"),
    "cohere2_command_r7b.json":  dict(rope_type="default", rope_theta=5e4, head_dim=128,
                                      primary_set="sliding_attention"),
    "exaone4_32b.json":          dict(rope_type="llama3", rope_theta=1e6, head_dim=128,
                                      primary_set="sliding_attention"),
    "qwen3_vl_8b_instruct.json": dict(rope_type="default", rope_theta=5e6, mrope_section=[24, 20, 20],
                                      mrope_interleaved=True, style="half"),
    "deepseek_v3.json":          dict(rope_type="yarn", head_dim=64, rotary_dim=64, attn_head_dim=192,
                                      attention_factor=1.0, style="interleaved"),
    "gptj_6b.json":              dict(rope_type="default", rope_theta=1e4, head_dim=256, rotary_dim=64,
                                      style="interleaved"),
    "hunyuan_7b_instruct.json":  dict(rope_type="default", config_rope_type="dynamic", rotary_dim=128,
                                      rope_theta=10000.0 * 1000.0 ** (128 / 126)),
    "ministral3_8b.json":        dict(rope_type="yarn", rope_theta=1e9, attention_factor=1.0,
                                      query_scaling={"layers": "all_layers", "beta": 0.1, "floor_scale": 16384,
                                                     "pos_offset": 0}),
    "glm41v_9b_thinking.json":   dict(rope_type="default", rotary_dim=64, head_dim=128, mrope_section=[8, 12, 12],
                                      mrope_interleaved=False, style="interleaved"),
    # issue 9b: partial rotary, hybrid and MLA families checked against transformers (tests/golden/layers)
    "phi2.json":                 dict(rope_type="default", head_dim=80, rotary_dim=32, rope_theta=1e4),
    "stablelm_3b_4e1t.json":     dict(rope_type="default", head_dim=80, rotary_dim=20, rope_theta=1e4),
    "minimax_m2.json":           dict(rope_type="default", head_dim=128, rotary_dim=64, rope_theta=5e6),
    "cohere_command_r.json":     dict(rope_type="default", head_dim=128, rotary_dim=128, rope_theta=8e6,
                                      style="interleaved"),
    "qwen3_next_80b_a3b.json":   dict(rope_type="default", head_dim=256, rotary_dim=64, rope_theta=1e7),
    "qwen35_27b.json":           dict(rope_type="default", head_dim=256, rotary_dim=64, rope_theta=1e7,
                                      mrope_section=[11, 11, 10], mrope_interleaved=True),
    "qwen3_omni_30b_a3b.json":   dict(rope_type="default", head_dim=128, rotary_dim=128, rope_theta=1e6,
                                      mrope_section=[24, 20, 20], mrope_interleaved=True),
    "mistral_large4.json":       dict(rope_type="yarn", head_dim=64, rotary_dim=64, attention_factor=1.0,
                                      style="interleaved", primary_set="indexed_attention"),
    "mistral4_small.json":       dict(rope_type="yarn", head_dim=64, rotary_dim=64, attn_head_dim=128,
                                      attention_factor=1.0, style="interleaved",
                                      query_scaling={"layers": "all_layers", "beta": 0.1, "floor_scale": 8192,
                                                     "pos_offset": 0}),
}
for name in sorted(os.listdir(CFG)):
    check(name in expect, "bundled config %s has expectations here" % name)
for name, kv in expect.items():
    d = inspect(name)
    for key in ("rope_type", "rotary_dim", "head_dim", "inv_freq", "attention_factor",
                "softmax_scale_factor", "wavelength", "band", "original_inv_freq"):
        check(key in d, "%s: key %s" % (name, key))
    n = d["rotary_dim"] // 2
    check(len(d["inv_freq"]) == n and len(d["wavelength"]) == n and len(d["band"]) == n,
          "%s: %d frequencies" % (name, n))
    for k, v in kv.items():
        check(d.get(k) == v, "%s: %s = %r, expected %r" % (name, k, d.get(k), v))
    if d["rope_type"] == "proportional":  # zero frequencies (wavelength null); checked below
        continue
    inv = np.array(d["inv_freq"])
    check(np.allclose(np.array(d["wavelength"]), 2 * np.pi / inv, rtol=1e-15, atol=0),
          name + ": wavelength = 2 pi / theta")
    t0 = theta64(d["rope_theta"], d["rotary_dim"])
    check(np.allclose(np.array(d["original_inv_freq"]), t0, rtol=5e-16, atol=0),
          name + ": original_inv_freq = base^(-2i/R) in float64")
    if d["rope_type"] == "default":
        check(np.array_equal(inv, np.array(d["original_inv_freq"])), name + ": default keeps theta")
    if d["rope_type"] == "linear":
        check(np.allclose(inv, t0 / 8.0, rtol=1e-15, atol=0), name + ": linear theta / 8")

# --------------------------------------------- inspect: per-layer RoPE (JSON)
# Every config: rope_sets (one per layer type with RoPE), layer_map (set name or null
# per layer), layer_types; single-type models keep one set equal to the top-level keys.
layer_expect = {  # set name -> (rope_type, rope_theta, rotary_dim, live frequencies); map letters
    "gemma2_2b.json": ({"full_attention": ("default", 1e4, 256, 128), "sliding_attention": ("default", 1e4, 256, 128)},
                       "sf" * 13),
    "gemma3_1b.json": ({"full_attention": ("default", 1e6, 256, 128), "sliding_attention": ("default", 1e4, 256, 128)},
                       ("sssssf" * 5)[:26]),
    "gemma3_4b.json": ({"full_attention": ("linear", 1e6, 256, 128), "sliding_attention": ("default", 1e4, 256, 128)},
                       ("sssssf" * 6)[:34]),
    "gemma4_e2b.json": ({"full_attention": ("proportional", 1e6, 512, 64),
                         "sliding_attention": ("default", 1e4, 256, 128)}, "sssssf" * 5),
    "smollm3_3b.json": ({"full_attention": ("default", 5e6, 128, 64)}, "fff-" * 9),
    "llama4_scout.json": ({"chunked_attention": ("llama3", 5e5, 128, 64)}, "ccc-" * 12),
    "cohere2_command_r7b.json": ({"sliding_attention": ("default", 5e4, 128, 64)}, "sss-" * 8),
    "exaone4_32b.json": ({"sliding_attention": ("llama3", 1e6, 128, 64)}, "sss-" * 16),
    "qwen3_next_80b_a3b.json": ({"full_attention": ("default", 1e7, 64, 32)}, "---f" * 12),
    "qwen35_27b.json": ({"full_attention": ("default", 1e7, 64, 32)}, "---f" * 16),
    "mistral_large4.json": ({"indexed_attention": ("yarn", 1e4, 64, 32)}, "iii-" * 18),
}
for name in sorted(os.listdir(CFG)):
    d = inspect(name)
    for key in ("rope_sets", "primary_set", "n_layers", "layer_map", "layer_types", "query_scaling"):
        check(key in d, "%s: key %s" % (name, key))
    sets = {s["name"]: s for s in d["rope_sets"]}
    prim = sets.get(d["primary_set"], {})
    check(prim.get("inv_freq") == d["inv_freq"] and prim.get("rotary_dim") == d["rotary_dim"],
          name + ": the primary set is the top-level block")
    check(len(d["layer_map"]) == d["n_layers"] and len(d["layer_types"]) == d["n_layers"],
          name + ": one layer_map / layer_types entry per layer")
    for i, s in enumerate(d["layer_map"]):
        check(s is None or i in sets[s]["layers"], "%s: layer %d listed in its set" % (name, i))
    if name not in layer_expect:
        check(len(sets) == 1 and None not in d["layer_map"], name + ": one set, no NoPE layer")
        continue
    want, letters = layer_expect[name]
    check(set(sets) == set(want), "%s: sets %s" % (name, sorted(sets)))
    got = "".join("-" if s is None else s[0] for s in d["layer_map"])
    check(got == letters, "%s: layer map %s, expected %s" % (name, got, letters))
    for sname, (rt, theta, rot, live) in want.items():
        s = sets.get(sname, {})
        check((s.get("rope_type"), s.get("rope_theta"), s.get("rotary_dim")) == (rt, theta, rot),
              "%s/%s: %r" % (name, sname, (s.get("rope_type"), s.get("rope_theta"), s.get("rotary_dim"))))
        check(sum(1 for v in s.get("inv_freq", []) if v) == live, "%s/%s: %d live frequencies" % (name, sname, live))
sc = inspect("llama4_scout.json")["query_scaling"]
check(sc == {"layers": "nope_layers", "beta": 0.1, "floor_scale": 8192, "pos_offset": 1}, "llama4 query scaling %r" % sc)
rc, out, _ = run("inspect", os.path.join(CFG, "gemma3_1b.json"))
check(rc == 0 and "sliding_attention" in out and "layer map" in out and "5 full_attention" in out,
      "inspect text: a block per layer type and the layer map")

# Llama-3.1 at its documented shape; DeepSeek-V2-Lite softmax scale (HF yarn_apply_mscale)
d = inspect("deepseek_v2_lite.json")
m = 0.1 * 0.707 * math.log(40) + 1
check(abs(d["softmax_scale_factor"] - m * m) < 1e-15, "deepseek softmax_scale_factor")
check(abs(d["softmax_scale"] - 0.1147213867929261) < 1e-15, "deepseek softmax scale (HF value)")
# dynamic NTK: above the trained length the base grows (every theta but the first shrinks)
a, b = inspect("llama2_7b_dynamic.json"), inspect("llama2_7b_dynamic.json", "--seq-len", 16384)
check(a["inv_freq"] == a["original_inv_freq"], "dynamic at init = default")
check(all(x < y for x, y in zip(b["inv_freq"][1:], a["inv_freq"][1:])), "dynamic at 16384 shrinks theta")
# longrope: long factors above original_max_position_embeddings
a, b = inspect("phi3_mini_128k_instruct.json"), inspect("phi3_mini_128k_instruct.json", "--seq-len", 4097)
c = inspect("phi3_mini_128k_instruct.json", "--seq-len", 4096)
check(a["inv_freq"] == c["inv_freq"] and a["inv_freq"] != b["inv_freq"], "longrope switch at 4097")

# ------------------------------------- inspect vs the golden vectors of real peers
GOLD = {"llama2_7b.json": "llama2_7b", "codellama_7b.json": "codellama_7b",
        "llama31_8b.json": "llama31_8b", "llama32_1b.json": "llama32_1b",
        "qwen25_7b_instruct_yarn.json": "qwen25_7b_yarn", "deepseek_v2_lite.json": "deepseek_v2_lite",
        "phi3_mini_128k_instruct.json": "phi3_mini_128k_long", "gpt_neox_20b.json": "gpt_neox_20b",
        "llama2_7b_32k_linear.json": "llama2_7b_32k_linear",
        "llama2_7b_dynamic.json": "llama2_7b_dynamic_long", "qwen2_vl_7b_instruct.json": "qwen2_vl_7b",
        "gpt_oss_20b.json": "gpt_oss_20b"}

def golden(name):
    g = {}
    for line in open(os.path.join("golden", name + ".txt")):
        if line.startswith("#") or not line.strip():
            continue
        k, _, v = line.rstrip("\n").partition(" ")
        g[k] = v
    return g

def f32(s):
    return np.array(s.split(), dtype=np.float32)

for cfg, gname in GOLD.items():
    g = golden(gname)
    seq = int(g["seq_len"])
    d = inspect(cfg, "--seq-len", seq)
    gi = f32(g["inv_freq"])
    ours = np.array(d["inv_freq_f32"], dtype=np.float32)
    check(ours.shape == gi.shape, cfg + ": golden inv_freq length")
    if ours.shape == gi.shape:
        ulp = np.abs(ours.view(np.int32).astype(np.int64) - gi.view(np.int32).astype(np.int64)).max()
        check(ulp <= 2, "%s: inv_freq_f32 vs HF (%s) %d ulp" % (cfg, gname, ulp))
    check(abs(d["attention_factor"] - float(g["attention_factor"])) <= 1e-15,
          "%s: attention factor %r vs HF %s" % (cfg, d["attention_factor"], g["attention_factor"]))

# ------------------------------------------------------------------ table
t = json.loads(run_ok("table", os.path.join(CFG, "llama2_7b.json"), "--positions", "0,1,4096", "--json"))
cos, sin = np.array(t["cos"]), np.array(t["sin"])
check(t["positions"] == [0, 1, 4096] and cos.shape == (3, 64) and sin.shape == (3, 64), "table shape")
ang = np.array([0, 1, 4096], dtype=np.float64)[:, None] * theta64(1e4, 128)[None, :]
check(np.abs(cos - np.cos(ang)).max() < 1e-7 and np.abs(sin - np.sin(ang)).max() < 1e-7,
      "table (accurate) vs float64 cos/sin")
# compat vs HF's own float32 cos/sin (golden), attention factor divided out
for cfg, gname in (("llama31_8b.json", "llama31_8b"), ("qwen25_7b_instruct_yarn.json", "qwen25_7b_yarn")):
    g = golden(gname)
    pos = g["positions"].split()
    t = json.loads(run_ok("table", os.path.join(CFG, cfg), "--positions", ",".join(pos), "--seq-len",
                          g["seq_len"], "--compat", "--json"))
    af = float(g["attention_factor"])
    gc = f32(g["cos"]).reshape(len(pos), -1)[:, : len(t["cos"][0])].astype(np.float64)
    # same float32 angle where our float32 theta equals HF's; where torch's powf is
    # 1 ulp off the correctly rounded value the angle differs by pos * |d theta|
    ours = np.array(inspect(cfg, "--seq-len", g["seq_len"])["inv_freq_f32"], dtype=np.float32)
    dth = np.abs(ours.astype(np.float64) - f32(g["inv_freq"]).astype(np.float64))
    bound = af * (np.array(pos, dtype=np.float64)[:, None] * dth[None, :] + 4e-7)
    err = np.abs(np.array(t["cos"]) * af - gc)
    check((err <= bound).all(), "%s: table --compat vs HF cos, max err %g" % (cfg, err.max()))
out = run_ok("table", os.path.join(CFG, "smollm2_135m.json"), "--positions", "0,7")
check(len(out.strip().splitlines()) == 2 + 2 * 32, "table text: one line per (position, frequency)")

# ------------------------------------------------------------------ apply
rng = np.random.default_rng(1)

def rot_half(x, pos, theta, R, af=1.0, inverse=False):
    x = x.astype(np.float64)
    a = pos.astype(np.float64)[..., None] * theta  # (..., S, R/2)
    c, s = np.cos(a) * af, np.sin(a) * af * (-1 if inverse else 1)
    y = x.copy()
    x1, x2 = x[..., : R // 2], x[..., R // 2 : R]
    c, s = c[:, :, None, :], s[:, :, None, :]
    y[..., : R // 2] = x1 * c - x2 * s
    y[..., R // 2 : R] = x2 * c + x1 * s
    return y

def rot_inter(x, pos, theta, R):
    x = x.astype(np.float64)
    a = pos.astype(np.float64)[..., None] * theta
    c, s = np.cos(a)[:, :, None, :], np.sin(a)[:, :, None, :]
    y = x.copy()
    e, o = x[..., 0:R:2], x[..., 1:R:2]
    y[..., 0:R:2] = e * c - o * s
    y[..., 1:R:2] = o * c + e * s
    return y

def apply(cfg, x, positions, *extra, dtype=np.float32):
    fin, fout = os.path.join(tmp, "in.npy"), os.path.join(tmp, "out.npy")
    np.save(fin, x.astype(dtype))
    run_ok("apply", "--config", os.path.join(CFG, cfg), *extra, "--positions", positions, fin, fout)
    y = np.load(fout)
    check(y.dtype == np.dtype(dtype) and y.shape == x.shape, "apply keeps dtype and shape")
    return y

B, S, H, D = 2, 5, 3, 128
pos = np.array([0, 1, 2, 100, 4096])
plist = ",".join(map(str, pos))
x = rng.standard_normal((B, S, H, D)).astype(np.float32)
P = np.broadcast_to(pos, (B, S))
th = theta64(1e4, 128)
y = apply("llama2_7b.json", x, plist, "--style", "half")
check(np.abs(y - rot_half(x, P, th, 128)).max() < 5e-6, "apply half vs numpy float64 rotate_half")
y2 = apply("llama2_7b.json", x, plist, "--style", "interleaved")
check(np.abs(y2 - rot_inter(x, P, th, 128)).max() < 5e-6, "apply interleaved vs numpy float64")
# deinterleave (DeepSeek-V3 rope_interleave): interleaved pairs in, [even | odd] out, bit for bit
# the interleaved result reordered; --inverse reads [even | odd] and gives x back
yd = apply("llama2_7b.json", x, plist, "--style", "deinterleave")
check(np.array_equal(yd, np.concatenate([y2[..., 0::2], y2[..., 1::2]], axis=-1)),
      "apply deinterleave == interleaved result as [even | odd]")
yi = apply("llama2_7b.json", yd, plist, "--style", "deinterleave", "--inverse")
check(np.abs(yi - x).max() < 5e-6, "apply deinterleave --inverse undoes it")
# bhsd: same numbers, array stored (b, h, s, d)
xb = np.ascontiguousarray(x.transpose(0, 2, 1, 3))
yb = apply("llama2_7b.json", xb, plist, "--style", "half", "--layout", "bhsd")
check(np.array_equal(yb.transpose(0, 2, 1, 3), y), "bhsd == bshd bit for bit")
# inverse round trip (attention factor 1)
fin2 = os.path.join(tmp, "rt.npy")
np.save(fin2, y)
run_ok("apply", "--config", os.path.join(CFG, "llama2_7b.json"), "--style", "half", "--inverse",
       "--positions", plist, fin2, os.path.join(tmp, "back.npy"))
back = np.load(os.path.join(tmp, "back.npy"))
check(np.abs(back - x).max() < 5e-6, "forward then --inverse gives the input back")
# per-batch positions from a .npy (batch, seq) int64, and int32 (seq,)
pb = np.array([[0, 1, 2, 3, 4], [7, 8, 9, 10, 11]], dtype=np.int64)
np.save(os.path.join(tmp, "pos.npy"), pb)
y3 = apply("llama2_7b.json", x, os.path.join(tmp, "pos.npy"), "--style", "half")
check(np.abs(y3 - rot_half(x, pb, th, 128)).max() < 5e-6, "per-batch positions .npy")
np.save(os.path.join(tmp, "pos32.npy"), pos.astype(np.int32))
y4 = apply("llama2_7b.json", x, os.path.join(tmp, "pos32.npy"), "--style", "half")
check(np.array_equal(y4, y), "int32 positions .npy == list")
# partial rotary (GPT-NeoX: 24 of 96), tail bit-identical
xn = rng.standard_normal((1, 5, 2, 96)).astype(np.float32)
yn = apply("gpt_neox_20b.json", xn, plist, "--style", "half")
check(np.array_equal(yn[..., 24:], xn[..., 24:]), "partial rotary tail copied bit for bit")
check(np.abs(yn - rot_half(xn, np.broadcast_to(pos, (1, 5)), theta64(1e4, 24), 24)).max() < 5e-6,
      "partial rotary vs numpy")
# yarn: cos and sin multiplied by the attention factor, as HF
af = 1.1386294361119890
yq = apply("qwen25_7b_instruct_yarn.json", x, plist, "--style", "half")
thq = np.array(inspect("qwen25_7b_instruct_yarn.json", "--seq-len", 4097)["inv_freq"])
check(np.abs(yq - rot_half(x, P, thq, 128, af)).max() < 1e-5, "yarn apply includes attention factor")
# float16 in, float16 out
yh = apply("llama2_7b.json", x, plist, "--style", "half", dtype=np.float16)
check(np.abs(yh.astype(np.float64) - rot_half(x.astype(np.float16), P, th, 128)).max() < 1e-2,
      "float16 apply")
# against Hugging Face's own apply_rotary_pos_emb output (golden, q is (b, h, s, d))
for cfg, gname in (("llama31_8b.json", "llama31_8b"), ("qwen25_7b_instruct_yarn.json", "qwen25_7b_yarn")):
    g = golden(gname)
    allpos = g["positions"].split()
    rows = [allpos[int(r)] for r in g["apply_rows"].split()]
    qs = tuple(int(v) for v in g["q_shape"].split())
    q, qo = f32(g["q"]).reshape(qs), f32(g["q_out"]).reshape(qs)
    yo = apply(cfg, q, ",".join(rows), "--style", "half", "--layout", "bhsd", "--compat",
               "--seq-len", g["seq_len"])
    err = np.abs(yo - qo).max()
    check(err < 2e-5, "%s: apply --compat vs HF apply_rotary_pos_emb, max err %g" % (cfg, err))

# ------------------------------------------------------- malformed inputs
good = os.path.join(tmp, "good.npy")
np.save(good, x)
out = os.path.join(tmp, "o.npy")
L = os.path.join(CFG, "llama2_7b.json")
raw = open(good, "rb").read()
def write(name, data):
    p = os.path.join(tmp, name)
    open(p, "wb").write(data)
    return p
expect_fail("truncated data", "apply", "--config", L, "--style", "half", "--positions", plist,
            write("trunc.npy", raw[:-7]), out)
expect_fail("truncated header", "apply", "--config", L, "--style", "half", "--positions", plist,
            write("trunc2.npy", raw[:40]), out)
expect_fail("not npy", "apply", "--config", L, "--style", "half", "--positions", plist,
            write("junk.npy", b"hello world"), out)
expect_fail("extra bytes", "apply", "--config", L, "--style", "half", "--positions", plist,
            write("extra.npy", raw + b"\0\0\0\0"), out)
hdr = raw[:128].replace(b"'fortran_order': False", b"'fortran_order': True ")
expect_fail("fortran order", "apply", "--config", L, "--style", "half", "--positions", plist,
            write("fortran.npy", hdr + raw[128:]), out)
np.save(os.path.join(tmp, "f64.npy"), x.astype(np.float64))
expect_fail("float64 input", "apply", "--config", L, "--style", "half", "--positions", plist,
            os.path.join(tmp, "f64.npy"), out)
np.save(os.path.join(tmp, "be.npy"), x.astype(">f4"))
expect_fail("big-endian input", "apply", "--config", L, "--style", "half", "--positions", plist,
            os.path.join(tmp, "be.npy"), out)
np.save(os.path.join(tmp, "odd.npy"), rng.standard_normal((1, 5, 2, 127)).astype(np.float32))
expect_fail("odd head_dim array", "apply", "--config", L, "--style", "half", "--positions", plist,
            os.path.join(tmp, "odd.npy"), out)
np.save(os.path.join(tmp, "d3.npy"), np.zeros((2, 3), np.float32))
expect_fail("2-D array", "apply", "--config", L, "--style", "half", "--positions", "0,1", os.path.join(tmp, "d3.npy"), out)
expect_fail("negative position", "apply", "--config", L, "--style", "half", "--positions", "0,1,2,-3,4", good, out)
expect_fail("huge position", "apply", "--config", L, "--style", "half", "--positions",
            "0,1,2,3,1152921504606846976", good, out)
expect_fail("position junk", "apply", "--config", L, "--style", "half", "--positions", "0,1,,3,4", good, out)
expect_fail("positions length", "apply", "--config", L, "--style", "half", "--positions", "0,1,2", good, out)
expect_fail("no style", "apply", "--config", L, "--positions", plist, good, out)
expect_fail("bad style", "apply", "--config", L, "--style", "rotate", "--positions", plist, good, out)
expect_fail("bad layout", "apply", "--config", L, "--style", "half", "--layout", "sbhd", "--positions", plist, good, out)
expect_fail("missing input", "apply", "--config", L, "--style", "half", "--positions", plist,
            os.path.join(tmp, "nope.npy"), out)
expect_fail("no args", "apply")
expect_fail("unknown option", "inspect", L, "--frobnicate")
expect_fail("table without positions", "table", L)
expect_fail("table bad seq-len", "table", L, "--positions", "1", "--seq-len", "x")
def cfgfile(name, text):
    return write(name, text.encode())
bad_cfgs = {
    "bad JSON": '{"hidden_size": 4096, "num_attention_heads": 32,,}',
    "truncated JSON": '{"hidden_size": 4096, "num_attention_heads": 32, "rope_scaling": {"type": "yarn"',
    "not an object": '[1, 2, 3]',
    "rotary_dim > head_dim": '{"head_dim": 64, "partial_rotary_factor": 1.5}',
    "odd head_dim": '{"head_dim": 63}',
    "no head dim": '{"rope_theta": 10000}',
    "string theta": '{"head_dim": 64, "rope_theta": "10000"}',
    "negative theta": '{"head_dim": 64, "rope_theta": -5}',
    "unknown type": '{"head_dim": 64, "rope_scaling": {"type": "bogus", "factor": 2}}',
    "linear without factor": '{"head_dim": 64, "rope_scaling": {"type": "linear"}}',
    "longrope short list": '{"head_dim": 8, "max_position_embeddings": 100, "rope_scaling": '
                           '{"type": "longrope", "short_factor": [1], "long_factor": [1, 2],'
                           ' "original_max_position_embeddings": 10}}',
    "mrope sum": '{"head_dim": 128, "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 23]}}',
}
for what, text in bad_cfgs.items():
    p = cfgfile("bad.json", text)
    expect_fail("inspect " + what, "inspect", p)
    expect_fail("apply " + what, "apply", "--config", p, "--style", "half", "--positions", plist, good, out)
expect_fail("missing config", "inspect", os.path.join(tmp, "none.json"))
expect_fail("binary config", "inspect", write("bin.json", bytes(range(256))))

# --------------------------------------- table / apply: one layer type or layer
g3 = os.path.join(CFG, "gemma3_1b.json")
slid = json.loads(run_ok("table", g3, "--positions", "0,7,100", "--layer-type", "sliding_attention", "--json"))
full = json.loads(run_ok("table", g3, "--positions", "0,7,100", "--json"))
lay5 = json.loads(run_ok("table", g3, "--positions", "0,7,100", "--layer", "5", "--json"))
lay0 = json.loads(run_ok("table", g3, "--positions", "0,7,100", "--layer", "0", "--json"))
th = theta64(1e4, 256)
check(np.allclose(np.array(slid["cos"])[1], np.cos(7 * th), atol=6e-8), "table --layer-type: sliding theta 1e4")
check(lay0["cos"] == slid["cos"] and lay5["cos"] == full["cos"] and slid["cos"] != full["cos"],
      "table --layer L: the layer's set (0 sliding, 5 full)")
expect_fail("table --layer of a NoPE layer", "table", os.path.join(CFG, "smollm3_3b.json"), "--positions", "1",
            "--layer", "3")
expect_fail("table --layer-type unknown", "table", g3, "--positions", "1", "--layer-type", "chunked_attention")
expect_fail("table --layer outside", "table", g3, "--positions", "1", "--layer", "26")
expect_fail("table --layer and --layer-type", "table", g3, "--positions", "1", "--layer", "1", "--layer-type",
            "sliding_attention")
xg = np.random.default_rng(3).standard_normal((1, 2, 1, 256)).astype(np.float32)
ing, outs_, outf_ = os.path.join(tmp, "g_in.npy"), os.path.join(tmp, "g_s.npy"), os.path.join(tmp, "g_f.npy")
np.save(ing, xg)
run_ok("apply", "--config", g3, "--style", "half", "--positions", "0,9", "--layer-type", "sliding_attention", ing, outs_)
run_ok("apply", "--config", g3, "--style", "half", "--positions", "0,9", ing, outf_)
ys = np.load(outs_)
want = xg[0, 1, 0, :128] * np.cos(9 * th).astype(np.float32) - xg[0, 1, 0, 128:] * np.sin(9 * th).astype(np.float32)
check(np.allclose(ys[0, 1, 0, :128], want, atol=1e-5), "apply --layer-type: sliding layers rotate by theta 1e4")
check(not np.allclose(np.load(outf_), ys), "apply: the default (full layers) differs from the sliding layers")

shutil.rmtree(tmp, ignore_errors=True)
print("test_inspect_table_apply: %d checks, %d failed" % (checks, fails))
sys.exit(1 if fails else 0)
PY
