"""Bad input to every public Python function: a clear Python exception, never a crash, a hang,
a silently truncated or wrapped value, or an output written behind autograd's back; and the
module's thread pool changed while other threads are inside apply."""
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import librope

F = librope.freqs(rope_theta=10000.0, head_dim=16)
X = np.arange(2 * 3 * 2 * 16, dtype=np.float32).reshape(2, 3, 2, 16) / 100
BAD_ARG = (TypeError, ValueError, OverflowError)  # RopeError is a ValueError


# ---- positions: floats refused (not truncated), beyond int64 refused (not wrapped)

FLOAT_POSITIONS = [[0.0, 1.0, 2.0], [0.5, 1, 2], np.array([0.0, 1.0, 2.0]), torch.tensor([0.0, 1.0, 2.0]),
                   torch.tensor([0, 1, 2], dtype=torch.float64), 2.0, np.float32(1.0), [True, False, True],
                   torch.tensor([True, False, True]), [1 + 0j, 2, 3], ["0", "1", "2"]]
HUGE_POSITIONS = [[0, 1, 2 ** 63], np.array([0, 1, 2 ** 63], dtype=np.uint64), [0, 1, 2 ** 64 + 1],
                  [0, 1, -2 ** 63 - 1], 2 ** 63, 2 ** 64 + 3, -2 ** 63 - 1]


@pytest.mark.parametrize("pos", FLOAT_POSITIONS, ids=lambda p: type(p).__name__)
@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_float_bool_complex_and_string_positions_are_refused(pos, kind):
    x = X if kind == "numpy" else torch.from_numpy(X.copy())
    out = x.copy() if kind == "numpy" else x.clone()
    before = out.copy() if kind == "numpy" else out.clone()
    with pytest.raises(TypeError, match="integer"):
        librope.apply(x, pos, style="half", freqs=F, out=out)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(before))  # output untouched
    with pytest.raises(TypeError, match="integer"):
        librope.apply(x, pos, style="half", freqs=F)
    with pytest.raises(TypeError, match="integer"):
        librope.apply_qk(x, x, pos, style="half", freqs=F)
    if not isinstance(pos, (float, np.floating)):
        with pytest.raises(TypeError, match="integer"):
            librope.cos_sin(F, pos)
        with pytest.raises(TypeError, match="integer"):
            librope.Table(F, pos)


@pytest.mark.parametrize("pos", HUGE_POSITIONS, ids=str)
def test_positions_beyond_int64_are_refused(pos):
    for x in (X, torch.from_numpy(X.copy())):
        with pytest.raises(OverflowError, match="int64"):
            librope.apply(x, pos, style="half", freqs=F)
    if isinstance(pos, int):
        with pytest.raises(OverflowError, match="int64"):
            librope.cos_sin(F, pos)
    else:
        with pytest.raises(OverflowError, match="int64"):
            librope.Table(F, pos)
        with pytest.raises(OverflowError, match="int64"):
            librope.Table.mrope(F, [pos, pos, pos])


def test_integer_positions_of_every_dtype_are_accepted():
    want = librope.apply(X, [0, 1, 2], style="half", freqs=F)
    for pos in (np.array([0, 1, 2], dtype=np.uint64), np.array([0, 1, 2], dtype=np.int8), (0, 1, 2),
                torch.tensor([0, 1, 2], dtype=torch.int32), torch.tensor([0, 1, 2], dtype=torch.uint8), 0,
                np.int64(0)):
        np.testing.assert_array_equal(librope.apply(X, pos, style="half", freqs=F), want)


def test_axial_table_columns_are_checked_not_converted():
    coords = np.zeros((2, 3), np.int64)
    ok = librope.Table.axial(F, coords, [0] * 4 + [1] * 4, list(range(4)) * 2)
    assert ok.rows == 3 and ok.n_freqs == 8
    with pytest.raises(OverflowError, match="int32"):  # 2**32 + 3 would wrap to 3
        librope.Table.axial(F, coords, [0] * 4 + [1] * 4, [0, 1, 2, 3, 0, 1, 2, 2 ** 32 + 3])
    with pytest.raises(TypeError, match="integer"):
        librope.Table.axial(F, coords, [0.0] * 4 + [1.5] * 4, list(range(4)) * 2)
    with pytest.raises(TypeError, match="integer"):
        librope.Table.axial(F, np.zeros((2, 3)), [0] * 4 + [1] * 4, list(range(4)) * 2)


def test_model_query_scale_positions_are_checked_too():
    m = librope.model({"head_dim": 16, "rope_theta": 1e4, "num_hidden_layers": 2})
    np.testing.assert_array_equal(m.query_scale(0, [0, 1, 2]), np.ones(3))
    with pytest.raises(TypeError, match="integer"):
        m.query_scale(0, [0.5, 1.7])
    with pytest.raises(OverflowError, match="int64"):
        m.query_scale(0, [2 ** 64])


def test_model_layers_and_query_scale_domain():
    """Model.layer_set / layer_freqs / query_scale take int64 layers only (a bool is not layer
    1), check the layer even where no scaling applies, and keep rope_model_query_scale's domain:
    positions in [0, 2^53] (a negative one gave -inf or NaN), a beta whose scale stays finite
    at 2^53 (1e307 gave inf)."""
    m = librope.model({"head_dim": 16, "rope_theta": 1e4, "num_hidden_layers": 2})
    for bad in (True, np.bool_(False), 1.0, "0", torch.tensor(0), None):
        for call in (lambda: m.layer_set(bad), lambda: m.layer_freqs(bad), lambda: m.query_scale(bad, [0])):
            with pytest.raises(TypeError, match="integer"):
                call()
    with pytest.raises(OverflowError, match="int64"):
        m.layer_set(2 ** 64)
    for layer in (2, -1, 2 ** 62):
        with pytest.raises(ValueError, match="outside|layer"):
            m.query_scale(layer, [0])
    for pos in ([-1], [0, -2 ** 40], [2 ** 53 + 1], [2 ** 62]):
        with pytest.raises(ValueError, match=r"\[0, 2\^53\]"):
            m.query_scale(0, pos)
    rp = {"rope_type": "default", "rope_theta": 1e4, "original_max_position_embeddings": 8192}
    ok = librope.model({"head_dim": 16, "num_hidden_layers": 2,
                        "rope_parameters": dict(rp, llama_4_scaling_beta=0.1)})
    s = ok.query_scale(1, [0, 8192, 2 ** 53])
    assert np.all(np.isfinite(s)) and s[0] == 1.0 and s[2] > s[1] > 1.0
    for beta in (1e307, -1e307):
        with pytest.raises(ValueError, match="infinite"):
            librope.model({"head_dim": 16, "num_hidden_layers": 2,
                           "rope_parameters": dict(rp, llama_4_scaling_beta=beta)})
    with pytest.raises(ValueError, match="infinite"):
        librope.model({"model_type": "llama4_text", "head_dim": 16, "rope_theta": 5e5, "num_hidden_layers": 4,
                       "no_rope_layers": [1, 1, 1, 0], "attn_scale": 1e307, "floor_scale": 8192})


def test_verify_refuses_non_finite_evidence_and_a_bad_layout():
    """NaN or Inf in any evidence is refused by name (it was skipped: "max error 0"), in the C
    analysis, so `rope verify` refuses it too; layout is checked whatever the evidence."""
    cfg = {"head_dim": 16, "rope_theta": 1e4, "num_hidden_layers": 2}
    cos, sin = librope.cos_sin(F, 8)
    assert librope.verify(cfg, cos, sin)["verdict"] == "right"
    q = np.random.default_rng(0).standard_normal((1, 8, 2, 16)).astype(np.float32)
    qo = librope.apply(q, None, style="half", freqs=F)
    for bad in (np.nan, np.inf, -np.inf):
        c = cos.copy()
        c[5, 3] = bad
        with pytest.raises(ValueError, match="cos holds"):
            librope.verify(cfg, c, sin)
        with pytest.raises(ValueError, match="sin holds"):
            librope.verify(cfg, cos, c)
        with pytest.raises(ValueError, match="freqs_cis holds"):
            librope.verify(cfg, freqs_cis=c + 1j * sin)
        x = qo.copy()
        x[0, 7, 1, 15] = bad
        with pytest.raises(ValueError, match="output .* holds"):
            librope.verify(cfg, q=q, q_out=x)
        with pytest.raises(ValueError, match="output .* holds"):
            librope.verify(cfg, q=torch.from_numpy(q), q_out=torch.from_numpy(x).bfloat16())
        with pytest.raises(ValueError, match="input .* holds"):
            librope.verify(cfg, q=q, q_out=qo, k=x, k_out=qo)
    for layout in ("junk", "BSHD", None, 1):
        with pytest.raises(ValueError, match="layout"):
            librope.verify(cfg, cos, sin, layout=layout)


# ---- out= and autograd

def test_out_that_requires_grad_is_refused_and_left_untouched():
    x = torch.randn(1, 3, 2, 16)
    out = torch.zeros(1, 3, 2, 16, requires_grad=True)
    with pytest.raises(ValueError, match="requires grad"):
        librope.apply(x, None, style="half", freqs=F, out=out)
    assert torch.count_nonzero(out) == 0
    xg = x.clone().requires_grad_()
    with pytest.raises(ValueError, match="requires grad"):
        librope.apply(xg, None, style="half", freqs=F, out=torch.zeros(1, 3, 2, 16))
    with pytest.raises(ValueError, match="requires grad"):
        librope.apply_qk(xg, x, None, style="half", freqs=F, out_q=torch.empty_like(x), out_k=torch.empty_like(x))
    with torch.no_grad():  # as torch's own in-place ops: allowed without grad mode
        librope.apply(x, None, style="half", freqs=F, out=out)
    assert torch.equal(out.detach(), librope.apply(x, None, style="half", freqs=F))


def test_inference_tensors_follow_torchs_rule():
    with torch.inference_mode():
        x = torch.randn(1, 3, 2, 16)
        librope.apply(x, None, style="half", freqs=F, out=x)  # allowed inside inference mode
    before = x.clone()
    with pytest.raises(ValueError, match="inference"):
        librope.apply(x, None, style="half", freqs=F, out=x)
    assert torch.equal(x, before)
    assert torch.equal(librope.apply(x, None, style="half", freqs=F),
                       librope.apply(x.clone(), None, style="half", freqs=F))


@pytest.mark.skipif(not hasattr(getattr(torch.autograd, "graph", None), "increment_version"),
                    reason="torch.autograd.graph.increment_version needs torch >= 2.1")
def test_an_in_place_write_is_seen_by_autograd():
    """A tensor saved for backward and then rotated in place (under no_grad): backward must
    fail as for any torch in-place op, not use the changed values silently."""
    w = torch.randn(1, 3, 2, 16, requires_grad=True)
    x = torch.randn(1, 3, 2, 16)
    y = (w * x).sum()  # saves x
    with torch.no_grad():
        librope.apply(x, None, style="half", freqs=F, out=x)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


# ---- every other argument

def test_freqs_fields_are_checked_not_converted():
    cases = {
        "head_dim": [2 ** 64 + 16, 16.5, "16", True, None and 0], "rope_theta": ["1e4", math.nan, math.inf, [1.0]],
        "type": ["default\0linear", 3, "défaut"], "factor": [math.inf, "2"],
        "mrope_section": [[1.5, 2, 1], [2 ** 64, 1, 1], "abc", [1, 2, 3, 4], 5],
        "short_factor": ["1.0", ["1", "2"], [[1.0]]], "truncate": ["no", 2],
        "max_position_embeddings": [2 ** 63, -2 ** 63 - 1, 1e30],
    }
    for field, values in cases.items():
        for v in values:
            if v is None or v == 0 and not isinstance(v, list):
                continue
            with pytest.raises(BAD_ARG):
                librope.freqs(rope_theta=10000.0, head_dim=16, **{field: v})
    for sl in (1.5, -1, 2 ** 63, "8"):
        with pytest.raises(BAD_ARG):
            librope.freqs(rope_theta=10000.0, head_dim=16, seq_len=sl)
    # what JSON gives for integer fields (4096.0) is still accepted
    assert librope.freqs(rope_theta=10000.0, head_dim=16.0).head_dim == 16


def test_a_rope_type_with_an_embedded_nul_is_not_read_as_its_prefix():
    with pytest.raises(ValueError, match="NUL"):
        librope.freqs({"head_dim": 16, "rope_theta": 1e4, "rope_scaling": {"rope_type": "linear\0yarn",
                                                                           "factor": 2.0}})


def test_apply_arguments_are_checked():
    t = librope.Table(F, 8)
    for kw in ({"style": True}, {"style": 1.0}, {"style": None}, {"style": "half\0"}, {"layout": ["bshd"]},
               {"layout": "bhds"}, {"attention_factor": math.nan}, {"attention_factor": "1"},
               {"attention_factor": math.inf}, {"rotary_dim": 16.0}, {"rotary_dim": 2 ** 64},
               {"freqs": None, "table": None}, {"freqs": F, "table": t}, {"freqs": t}, {"table": F},
               {"freqs": {"head_dim": 16}}):
        args = {"style": "half", "freqs": F}
        args.update(kw)
        for x in (X, torch.from_numpy(X.copy())):
            with pytest.raises(BAD_ARG):
                librope.apply(x, None, **args)


def test_thread_counts_are_checked():
    for n in (2.5, "2", True, -1, 257, 2 ** 64, None):
        with pytest.raises(BAD_ARG):
            librope.set_num_threads(n)
    assert librope.get_num_threads() == 1


def test_tables_from_bad_cos_sin_are_refused():
    c = np.ones((4, 8), np.float32)
    for bad in (np.full((4, 8), np.nan, np.float32), np.full((4, 8), np.inf), c.astype(np.complex64),
                np.array([["a"] * 8] * 4), np.ones((4, 7)), np.ones(8), [[1.0] * 8, [1.0] * 7]):
        with pytest.raises(BAD_ARG):
            librope.Table.from_cos_sin(bad, c)
        with pytest.raises(BAD_ARG):
            librope.Table.from_cos_sin(c, bad)


# ---- a generic sweep: every public function, every argument replaced by junk, in a subprocess
# (a crash or a hang there fails the test instead of killing pytest)

SWEEP = textwrap.dedent(r"""
    import math, sys, numpy as np, torch, librope
    import librope.gptj, librope.gemma4, librope.deepseek_v3
    F = librope.freqs(rope_theta=10000.0, head_dim=16)
    T = librope.Table(F, 8)
    FM = librope.freqs(rope_theta=10000.0, head_dim=16, mrope_section=[2, 3, 3])
    CFG = {"head_dim": 16, "rope_theta": 1e4, "num_hidden_layers": 2}
    M = librope.model(CFG)
    COS, SIN = librope.cos_sin(F, 8)
    X = np.zeros((1, 3, 2, 16), np.float32)
    Q = np.random.default_rng(0).standard_normal((1, 8, 2, 16)).astype(np.float32)
    QO = librope.apply(Q, None, style="half", freqs=F)
    C8, S8 = torch.from_numpy(COS[:3][None].copy()), torch.from_numpy(SIN[:3][None].copy())  # (1, 3, 8)
    C16, S16 = torch.cat([C8, C8], -1), torch.cat([S8, S8], -1)  # HF's cat(freqs, freqs)
    JUNK = [None, True, 0, -1, 2 ** 31, 2 ** 63 - 1, 2 ** 63, -2 ** 63 - 1, 2 ** 200, 1.5, math.nan, -math.inf,
            "", "half\0", "x" * 10000, b"half", [], [1.5], [[1], [2, 3]], [2 ** 64], object(), 1j,
            np.zeros(0), np.zeros((0, 16, 2, 1), np.float32), np.zeros((2, 2)), np.float64(2.0), np.array(3),
            np.zeros((1, 3, 2, 16), np.float64), np.zeros((1, 3, 2, 15), np.float32),
            np.zeros((1, 3, 2, 16), np.float32)[..., ::-1], np.lib.stride_tricks.as_strided(X, strides=(0, 0, 0, 0)),
            torch.zeros(1, 3, 2, 16, dtype=torch.float64), torch.zeros(1, 3, 2, 16, device="meta"),
            torch.zeros(1, 3, 2, 16).to_sparse(), torch.zeros(1, 3, 2, 16, dtype=torch.int32),
            torch.zeros(3, dtype=torch.complex64), torch.zeros((), dtype=torch.int64), F, T]
    GOOD = {
        "freqs": ((), {"rope_theta": 1e4, "head_dim": 16}),
        "cos_sin": ((F, 4), {}),
        "Table": ((F, 4), {}),
        "Table.from_cos_sin": ((np.ones((2, 8)), np.zeros((2, 8))), {}),
        "Table.mrope": ((FM, np.zeros((3, 2), np.int64)), {}),
        "Table.axial": ((F, np.zeros((2, 3), np.int64), [0] * 4 + [1] * 4, list(range(4)) * 2), {}),
        "apply": ((X, None), {"style": "half", "freqs": F}),
        "apply_qk": ((X, X, None), {"style": "half", "freqs": F}),
        "rope": ((torch.zeros(1, 3, 2, 16), None), {"style": "half", "freqs": F}),
        "apply_rotary_pos_emb": ((torch.zeros(1, 2, 3, 16), torch.zeros(1, 2, 3, 16), torch.ones(1, 3, 16),
                                  torch.zeros(1, 3, 16)), {}),
        "apply_rotary_emb": ((torch.zeros(1, 3, 2, 16), torch.zeros(1, 3, 2, 16),
                              torch.ones(3, 8, dtype=torch.complex64)), {}),
        "config_from_hf": (({"head_dim": 16},), {}),
        "model": ((CFG,), {"seq_len": 8}),
        "M.query_scale": ((0, [0, 1, 2]), {}),
        "M.layer_freqs": ((1,), {}),
        "verify": ((CFG, COS, SIN), {"positions": np.arange(8), "tol": 1e-3, "style": "half", "seq_len": 8}),
        "verify#cis": ((CFG,), {"freqs_cis": COS + 1j * SIN, "positions": np.arange(8), "layer": 1}),
        "verify#pairs": ((CFG,), {"q": Q, "q_out": QO, "k": Q, "k_out": QO, "layout": "bshd",
                                  "positions": np.arange(8)}),
        "verify#type": ((CFG, COS, SIN), {"layer_type": "full_attention", "rope_theta": 1e4}),
        "M.layer_set": ((1,), {}),
        "gptj.apply_rotary_pos_emb": ((torch.zeros(1, 3, 2, 16), S8, C8), {}),
        "gemma4.apply_rotary_pos_emb": ((torch.zeros(1, 2, 3, 16), C16, S16), {"unsqueeze_dim": 1}),
        "deepseek_v3.apply_rotary_pos_emb_interleave": ((torch.zeros(1, 2, 3, 16), torch.zeros(1, 2, 3, 16),
                                                         C16, S16), {"unsqueeze_dim": 1}),
        "set_num_threads": ((1,), {}),
    }
    ALLOWED = (TypeError, ValueError, OverflowError, MemoryError, RuntimeError, NotImplementedError,
               OSError)  # OSError: config_from_hf of a path that is no file
    calls = 0
    for name, (args, kwargs) in GOOD.items():
        fn = M if name.startswith("M.") else librope
        for part in name.split("#")[0].split(".")[1 if name.startswith("M.") else 0:]:
            fn = getattr(fn, part)
        fn(*args, **kwargs)  # the good call works
        slots = [("a", i) for i in range(len(args))] + [("k", k) for k in kwargs]
        if name == "freqs":
            slots += [("k", "factor"), ("k", "seq_len"), ("k", "mrope_section"), ("k", "short_factor")]
        if name in ("apply", "apply_qk", "rope"):
            slots += [("k", "table"), ("k", "attention_factor"), ("k", "layout")]
        if name == "apply":
            slots += [("k", "out"), ("k", "rotary_dim"), ("k", "inverse")]
        for kind, slot in slots:
            for j in JUNK:
                a, kw = list(args), dict(kwargs)
                if kind == "a":
                    a[slot] = j
                else:
                    kw[slot] = j
                calls += 1
                try:
                    fn(*a, **kw)
                except ALLOWED as e:
                    if not str(e):
                        sys.exit(f"{name} {slot}={j!r:.40}: {type(e).__name__} without a message")
                except Exception as e:
                    sys.exit(f"{name} {slot}={j!r:.40}: unexpected {type(e).__name__}: {e}")
    librope.set_num_threads(1)
    print("calls", calls)
""")


def test_junk_in_every_argument_of_every_function_gives_a_python_exception():
    r = subprocess.run([sys.executable, "-c", SWEEP], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert r.returncode == 0, f"rc {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"
    assert int(r.stdout.split()[-1]) > 1500


# ---- threads: set_num_threads while other threads are inside apply

STRESS = textwrap.dedent(r"""
    import random, sys, threading, time
    sys.modules["torch"] = None  # NumPy only (a faster start; librope without torch)
    import numpy as np, librope
    f = librope.freqs(rope_theta=10000.0, head_dim=64)
    x = np.random.default_rng(1).standard_normal((1, 2048, 16, 64)).astype(np.float32)  # 8 MiB: splits
    want = librope.apply(x, 5, style="half", freqs=f)
    stop = time.monotonic() + float(sys.argv[1])
    errors, applies, changes = [], [0], [0]

    def caller():
        out = np.empty_like(x)
        while time.monotonic() < stop:
            librope.apply(x, 5, style="half", freqs=f, out=out)
            if not np.array_equal(out, want):
                errors.append("result differs")
            applies[0] += 1

    def changer(seed):
        rng = random.Random(seed)
        while time.monotonic() < stop:
            librope.set_num_threads(rng.choice([0, 1, 2, 3, 4]))
            changes[0] += 1
            time.sleep(rng.random() * 0.002)

    ts = [threading.Thread(target=caller) for _ in range(3)] + [threading.Thread(target=changer, args=(s,))
                                                               for s in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=60)
    if any(t.is_alive() for t in ts):
        print("HANG: a thread is still running 60 s after the end", flush=True)
        import os; os._exit(3)
    librope.set_num_threads(1)
    print(applies[0], changes[0], len(errors))
    sys.exit(1 if errors else 0)
""")


def test_set_num_threads_while_other_threads_apply():
    """3 threads apply an 8 MiB tensor (large enough to use the pool) while 2 threads replace
    the pool as fast as they can, for 3 s; before the pool was reference-counted this freed
    the pool under a running call (a use after free; the caller spun forever)."""
    r = subprocess.run([sys.executable, "-c", STRESS, "3"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"rc {r.returncode}\n{r.stdout}\n{r.stderr[-3000:]}"
    applies, changes, errors = map(int, r.stdout.split())
    assert applies >= 20 and changes >= 100 and errors == 0, r.stdout


def test_the_stress_under_thread_sanitizer():
    """The same stress with the library built with -fsanitize=thread (scripts/test-python.sh
    builds it; the interpreter is not instrumented, the library's pool is): no report. With the
    old set_num_threads TSan reports the pool freed under a running call."""
    lib = os.environ.get("LIBROPE_TSAN_LIBRARY")
    if not lib:
        pytest.skip("LIBROPE_TSAN_LIBRARY not set (scripts/test-python.sh builds a TSan library)")
    runtime = subprocess.run([os.environ.get("CC", "cc"), "-print-file-name=libtsan.so"], capture_output=True,
                             text=True).stdout.strip()
    assert os.path.isabs(runtime) and os.path.exists(runtime), f"no TSan runtime found ({runtime!r})"
    env = dict(os.environ, LD_PRELOAD=runtime, LIBROPE_LIBRARY=lib, TSAN_OPTIONS="halt_on_error=1 exitcode=66")
    r = subprocess.run([sys.executable, "-c", STRESS, "3"], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, f"rc {r.returncode}\n{r.stdout}\n{r.stderr[-6000:]}"
    applies, changes, errors = map(int, r.stdout.split())
    assert applies >= 5 and changes >= 50 and errors == 0, r.stdout
