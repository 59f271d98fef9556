#!/usr/bin/env python3
"""ggml's CPU RoPE beside librope, in one process: `rope bench --peers` runs it.

ggml (the tensor library under llama.cpp) is reached through its public C API
with ctypes, from the shared libraries that llama-cpp-python (PyPI) installs in
its package directory: nothing of ggml is part of librope. Without
llama-cpp-python the script prints {"error": ...} and exits 0 (the peer is
optional); a bad option exits 2.

What is timed, per shape x dtype x thread count, in interleaved rounds (the
order alternates), median of the rounds:
  ggml     ggml_graph_compute of a graph built once: ggml_rope_ext on q
           [head_dim, q heads, tokens] and on k [head_dim, kv heads, tokens],
           out of place, positions int32 per token; mode 0 (adjacent pairs =
           librope's "interleaved") or GGML_ROPE_TYPE_NEOX (halves = "half");
           freq_base 10000, no scaling. Only the compute is timed: the graph,
           its plan and work buffer are made once, as a runner does.
  librope  rope_apply_qk on the same input bytes (ggml's own input tensors),
           out of place into tensors of the same ggml context (same kind of
           memory as ggml's outputs), a rope_pool of the same thread count, an
           accurate 8192-row table.
Both go through one ctypes call per repetition (~1 us each). ggml's threads
are those of its build: the PyPI wheel uses OpenMP, whose team persists and
spins between calls as it does in llama.cpp.

Before timing, every output is checked against a float64 reference computed
here with numpy (angles p * 10000^(-2i/d) in float64); a contender whose max
error passes the tolerance is not timed (its row says why). Which dtypes ggml
can rotate is probed, not assumed: each dtype first runs in a child process,
since ggml aborts the process on a type its CPU rope lacks.

Shapes are those of bench/bench.c and bench/peers.py (layout batch, seq,
heads, head_dim). Prints one JSON document.
"""
import argparse
import ctypes
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # rope_ctypes.py lies beside this file
from rope_ctypes import ROPE_DTYPE, ROPE_STYLE, RopeApplyParams, RopePositions, RopeTensor, load  # noqa: E402

# name: (batch, seq, q heads, kv heads, head_dim, per-row positions); as in bench/bench.c
SHAPES = {
    "decode": (1, 1, 32, 8, 128, False),
    "decode-b32": (32, 1, 32, 8, 128, True),
    "prefill-512": (1, 512, 32, 32, 128, False),
    "prefill-4096": (1, 4096, 32, 32, 128, False),
}
DTYPES = ("f32", "f16", "bf16")
STYLES = ("interleaved", "half")
GGML_MODE = {"interleaved": 0, "half": 2}  # GGML_ROPE_TYPE_NORMAL, GGML_ROPE_TYPE_NEOX
GGML_TYPE = {"f32": 0, "f16": 1, "bf16": 30}  # enum ggml_type
ES = {"f32": 4, "f16": 2, "bf16": 2}
BASE = 10000.0
TABLE_ROWS = 8192
# Max |out - float64 reference| above which an output is called wrong. Values are in
# [-1, 1]. A wrong convention, position or layout errs by O(1); what passes is
# rounding: the dtype's (f16 half-ulp near 1: 5e-4, bf16: 4e-3) and ggml's float32
# angles (it builds theta by repeated float multiplication: ~1e-3 at position 4000).
TOL = {"f32": 5e-3, "f16": 6e-3, "bf16": 2e-2}


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="(always JSON; kept for symmetry)")
    ap.add_argument("--quick", action="store_true", help="fewer rounds, shorter samples")
    ap.add_argument("--threads", default="1,2", help="thread counts, default 1,2")
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--dtypes", default=",".join(DTYPES))
    ap.add_argument("--rounds", type=int, default=0, help="rounds (default 11, quick 5)")
    ap.add_argument("--settle-ms", type=float, default=20.0,
                    help="untimed pause before each multi-thread sample (default 20)")
    ap.add_argument("--lib", help="librope.so to time beside ggml (required to time)")
    ap.add_argument("--ggml-dir", help="directory of libggml-base.so and libggml-cpu.so "
                    "(default: llama_cpp/lib of the installed llama-cpp-python)")
    ap.add_argument("--probe", choices=DTYPES, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    try:
        a.threads = [int(t) for t in a.threads.split(",") if t]
    except ValueError:
        ap.error("--threads: a comma list of integers")
    if not a.threads or min(a.threads) < 1 or max(a.threads) > 256:
        ap.error("--threads: counts must be 1..256")
    a.shapes = [s for s in a.shapes.split(",") if s]
    a.dtypes = [d for d in a.dtypes.split(",") if d]
    for s in a.shapes:
        if s not in SHAPES:
            ap.error("--shapes: unknown shape '%s' (known: %s)" % (s, ", ".join(SHAPES)))
    for d in a.dtypes:
        if d not in DTYPES:
            ap.error("--dtypes: unknown dtype '%s' (known: %s)" % (d, ", ".join(DTYPES)))
    if a.rounds < 0 or a.rounds > 64:
        ap.error("--rounds must be 1..64")
    if not 0 <= a.settle_ms <= 1000:
        ap.error("--settle-ms must be 0..1000")
    a.settle = a.settle_ms / 1e3
    a.rounds = a.rounds or (5 if a.quick else 11)
    return a


def positions(name):
    """Position of every token (flattened batch x seq), as bench/peers.py uses."""
    b, s, _, _, _, per_row = SHAPES[name]
    if per_row:
        return [17 + 123 * i for i in range(b)]
    start = 4000 if s == 1 else 0
    return list(range(start, start + s)) * b


# ------------------------------------------------------------ float64 truth
def to_f64(np, a, dname):
    if dname == "bf16":
        return (a.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return a.astype(np.float64)


def from_f32(np, x, dname):
    """float32 array -> storage of dname (bf16: uint16 bits, round to nearest even)."""
    if dname == "f32":
        return x.astype(np.float32)
    if dname == "f16":
        return x.astype(np.float16)
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def reference(np, x, pos, style):
    """x: float64 [tokens, heads, d]; rotated by float64 angles."""
    d = x.shape[-1]
    inv = BASE ** (-np.arange(0, d, 2, dtype=np.float64) / d)
    ang = np.asarray(pos, dtype=np.float64)[:, None] * inv[None, :]  # [tokens, d/2]
    c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    if style == "interleaved":
        a, b = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2], out[..., 1::2] = a * c - b * s, a * s + b * c
        return out
    h = d // 2
    a, b = x[..., :h], x[..., h:]
    return np.concatenate((a * c - b * s, b * c + a * s), axis=-1)


def max_error(np, x, y, pos, style, dname):
    """max |y - R(pos) x| in float64, in chunks of tokens (bounded memory)."""
    err, step = 0.0, 256
    for t0 in range(0, x.shape[0], step):
        ref = reference(np, to_f64(np, x[t0:t0 + step], dname), pos[t0:t0 + step], style)
        err = max(err, float(np.max(np.abs(to_f64(np, y[t0:t0 + step], dname) - ref))))
    return err


# ------------------------------------------------------------------- ggml
class InitParams(ctypes.Structure):
    _fields_ = [("mem_size", ctypes.c_size_t), ("mem_buffer", ctypes.c_void_p),
                ("no_alloc", ctypes.c_bool)]


class Cplan(ctypes.Structure):  # struct ggml_cplan (ggml-cpu.h of ggml 0.25)
    # ggml_graph_plan returns it by value: the spare bytes at the end keep a later ggml
    # that appends a field from writing past this buffer
    _fields_ = [("work_size", ctypes.c_size_t), ("work_data", ctypes.c_void_p),
                ("n_threads", ctypes.c_int), ("threadpool", ctypes.c_void_p),
                ("abort_callback", ctypes.c_void_p), ("abort_callback_data", ctypes.c_void_p),
                ("use_ref", ctypes.c_bool), ("_spare", ctypes.c_char * 64)]


def ggml_dir(given):
    if given:
        return given, None
    spec = importlib.util.find_spec("llama_cpp")  # locates without importing it
    if spec is None or not spec.origin:
        return None, None
    try:
        from importlib.metadata import version
        ver = version("llama_cpp_python")
    except Exception:  # noqa: BLE001 - the version is for the record only
        ver = None
    return os.path.join(os.path.dirname(spec.origin), "lib"), ver


class Ggml:
    """The few ggml calls a RoPE graph needs (signatures from ggml.h / ggml-cpu.h of ggml
    0.25.3, the version llama-cpp-python 0.3.36 ships; ggml has no stable ABI, so another
    version may need these mirrors checked against its headers)."""

    def __init__(self, libdir):
        mode = getattr(os, "RTLD_GLOBAL", 0)
        self.base = B = ctypes.CDLL(os.path.join(libdir, "libggml-base.so"), mode=mode)
        self.cpu = C = ctypes.CDLL(os.path.join(libdir, "libggml-cpu.so"), mode=mode)
        P = ctypes.c_void_p
        B.ggml_version.restype = ctypes.c_char_p
        B.ggml_commit.restype = ctypes.c_char_p
        B.ggml_init.argtypes, B.ggml_init.restype = [InitParams], P
        B.ggml_free.argtypes = [P]
        B.ggml_tensor_overhead.restype = ctypes.c_size_t
        B.ggml_graph_overhead.restype = ctypes.c_size_t
        B.ggml_new_tensor_1d.argtypes, B.ggml_new_tensor_1d.restype = \
            [P, ctypes.c_int, ctypes.c_int64], P
        B.ggml_new_tensor_3d.argtypes, B.ggml_new_tensor_3d.restype = \
            [P, ctypes.c_int] + [ctypes.c_int64] * 3, P
        B.ggml_get_data.argtypes, B.ggml_get_data.restype = [P], P
        B.ggml_nbytes.argtypes, B.ggml_nbytes.restype = [P], ctypes.c_size_t
        B.ggml_rope_ext.argtypes = [P, P, P, P, ctypes.c_int, ctypes.c_int, ctypes.c_int] + \
            [ctypes.c_float] * 6
        B.ggml_rope_ext.restype = P
        B.ggml_new_graph.argtypes, B.ggml_new_graph.restype = [P], P
        B.ggml_build_forward_expand.argtypes = [P, P]
        C.ggml_graph_plan.argtypes, C.ggml_graph_plan.restype = [P, ctypes.c_int, P], Cplan
        C.ggml_graph_compute.argtypes = [P, ctypes.POINTER(Cplan)]
        C.ggml_graph_compute.restype = ctypes.c_int
        self.version = B.ggml_version().decode()
        self.commit = B.ggml_commit().decode()


class GgmlCase:
    """One ggml context: q, k, positions and, per style, a graph of two rope ops."""

    def __init__(self, g, dname, d, hq, hk, ntok):
        self.g, B = g, g.base
        es = ES[dname]
        data = es * d * ntok * (hq + hk) * (2 + len(STYLES)) + 4 * ntok
        mem = data + 16 * B.ggml_tensor_overhead() + 4 * B.ggml_graph_overhead() + (1 << 20)
        self.ctx = B.ggml_init(InitParams(mem, None, False))
        if not self.ctx:
            raise MemoryError("ggml_init(%d bytes) failed" % mem)
        ty = GGML_TYPE[dname]
        self.q = B.ggml_new_tensor_3d(self.ctx, ty, d, hq, ntok)
        self.k = B.ggml_new_tensor_3d(self.ctx, ty, d, hk, ntok)
        self.pos = B.ggml_new_tensor_1d(self.ctx, 26, ntok)  # GGML_TYPE_I32
        # librope's outputs, in the same allocation as ggml's (same page size: numpy's
        # big arrays get transparent huge pages, ggml's context may not)
        self.lq = B.ggml_new_tensor_3d(self.ctx, ty, d, hq, ntok)
        self.lk = B.ggml_new_tensor_3d(self.ctx, ty, d, hk, ntok)
        self.graphs, self.outs, self.plans, self.work = {}, {}, {}, []
        for style in STYLES:
            outs = []
            gf = B.ggml_new_graph(self.ctx)
            for x in (self.q, self.k):
                # n_ctx_orig 0, freq_scale 1, ext_factor 0 (no YaRN), attn_factor 1,
                # beta_fast 32, beta_slow 1 (llama.cpp's defaults; unused without YaRN)
                y = B.ggml_rope_ext(self.ctx, x, self.pos, None, d, GGML_MODE[style], 0,
                                    BASE, 1.0, 0.0, 1.0, 32.0, 1.0)
                if not y:
                    raise RuntimeError("ggml_rope_ext returned NULL")
                B.ggml_build_forward_expand(gf, y)
                outs.append(y)
            self.graphs[style], self.outs[style] = gf, outs

    def plan(self, style, threads):
        key = (style, threads)
        if key not in self.plans:
            cp = self.g.cpu.ggml_graph_plan(self.graphs[style], threads, None)
            if cp.work_size:
                buf = ctypes.create_string_buffer(cp.work_size)
                self.work.append(buf)
                cp.work_data = ctypes.cast(buf, ctypes.c_void_p)
            self.plans[key] = cp
        return self.plans[key]

    def fn(self, style, threads):
        graph, compute = self.graphs[style], self.g.cpu.ggml_graph_compute
        ref = ctypes.byref(self.plan(style, threads))

        def run():
            return compute(graph, ref)
        return run

    def array(self, np, t, shape, dname):
        n = int(np.prod(shape))
        dt = {"f32": np.float32, "f16": np.float16, "bf16": np.uint16}[dname]
        buf = (ctypes.c_char * (n * ES[dname])).from_address(self.g.base.ggml_get_data(t))
        return np.frombuffer(buf, dtype=dt, count=n).reshape(shape)

    def free(self):
        self.g.base.ggml_free(self.ctx)
        self.ctx = None


# ---------------------------------------------------------------- librope
class Librope:
    def __init__(self, path, d):
        L = self.L = load(path)
        P = ctypes.c_void_p
        self.isa = L.rope_isa_name().decode()
        # rope_config: type (enum) at 0, rope_theta (double) at 8, head_dim (int64) at 16
        cfg = ctypes.create_string_buffer(4096)
        L.rope_config_init(cfg)
        if ctypes.c_double.from_buffer(cfg, 8).value != BASE:
            raise RuntimeError("rope_config layout differs from what peer_ggml.py assumes")
        ctypes.c_int64.from_buffer(cfg, 16).value = d
        self.freqs = ctypes.create_string_buffer(1 << 16)  # > sizeof(rope_freqs)
        if L.rope_freqs_compute(cfg, 0, self.freqs) != 0:
            raise RuntimeError("rope_freqs_compute failed")
        self.table = P()
        if L.rope_table_create(self.freqs, TABLE_ROWS, 0, ctypes.byref(self.table)) != 0:
            raise RuntimeError("rope_table_create failed")
        self.pools = {}

    def pool(self, threads):
        if threads > 1 and threads not in self.pools:
            p = ctypes.c_void_p()
            if self.L.rope_pool_create(threads, ctypes.byref(p)) != 0:
                raise RuntimeError("rope_pool_create(%d) failed" % threads)
            self.pools[threads] = p
        return self.pools.get(threads)

    def fn(self, style, threads, shape, pos, ptrs, dname, refused=False):
        """rope_apply_qk(q -> qo, k -> ko) as a closure; ptrs: q, qo, k, ko addresses.
        refused: the same call with a NULL params pointer (librope refuses it at once):
        what the call itself costs from Python."""
        b, s, hq, hk, d, per_row = shape
        p = RopeApplyParams(ROPE_STYLE[style], self.table, None, d, 1.0, 0, self.pool(threads))
        rp, ids = RopePositions(), None
        if per_row:
            ids = (ctypes.c_int64 * b)(*pos)
            rp.ids, rp.ids_batch_stride = ctypes.cast(ids, ctypes.c_void_p), 1
        else:
            rp.offset = pos[0]
        ts = []
        for ptr, h in zip(ptrs, (hq, hq, hk, hk)):
            t = RopeTensor()
            self.L.rope_tensor_contiguous(ctypes.byref(t), ptr, ROPE_DTYPE[dname], b, s, h, d)
            ts.append(t)
        args = (None if refused else ctypes.byref(p), ctypes.byref(rp)) + \
            tuple(ctypes.byref(t) for t in ts)
        keep, apply = (p, rp, ids, ts), self.L.rope_apply_qk

        def run():
            apply(*args)
            return keep
        st = apply(*args)
        if (st != 0) != refused:
            raise RuntimeError("rope_apply_qk failed with status %d" % st)
        return run


# ----------------------------------------------------------------- timing
def calibrate(fn, target_s):
    fn()
    iters = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        dt = time.perf_counter() - t0
        if dt >= target_s or iters >= 1 << 20:
            return iters
        iters = min(iters * 16, int(iters * target_s / max(dt, 1e-9) * 1.2) + 1)


def measure(fns, rounds, target_s, settle_s):
    """Median seconds per call of each fn; rounds interleaved, order alternating.
    settle_s: an untimed pause before each sample, long enough for the previous
    contender's idle threads to stop spinning (libgomp spins for milliseconds
    after a parallel region, librope's pool for 0.1 ms): without it a sample
    shares the cores with the other library's spinning workers."""
    iters = [calibrate(f, target_s) for f in fns]
    samples = [[] for _ in fns]
    for r in range(rounds):
        order = range(len(fns)) if r % 2 == 0 else reversed(range(len(fns)))
        for i in order:
            if settle_s:
                time.sleep(settle_s)
            t0 = time.perf_counter()
            for _ in range(iters[i]):
                fns[i]()
            samples[i].append((time.perf_counter() - t0) / iters[i])
    return [statistics.median(s) for s in samples]


# ------------------------------------------------------------------- runs
def probe(g, dname):
    """Child process: one tiny rope of dname; ggml aborts the process if unsupported."""
    case = GgmlCase(g, dname, 8, 2, 2, 2)
    st = case.g.cpu.ggml_graph_compute(case.graphs["half"], ctypes.byref(case.plan("half", 1)))
    return 0 if st == 0 else 3


def dtype_supported(libdir, dname):
    """(True, None) or (False, why), from a child process running one tiny rope."""
    try:
        # GGML_NO_BACKTRACE: ggml would otherwise attach gdb to print a backtrace
        env = dict(os.environ, GGML_NO_BACKTRACE="1")
        r = subprocess.run([sys.executable, os.path.abspath(__file__), "--probe", dname,
                            "--ggml-dir", libdir], capture_output=True, text=True, timeout=120,
                           env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, "probe failed: %s" % exc
    if r.returncode == 0:
        return True, None
    lines = r.stderr.strip().splitlines() or ["(no message)"]
    last = ([ln for ln in lines if "error" in ln.lower()] or lines)[-1]
    last = last.split("ggml/src/")[-1][:160]  # ggml's build path says nothing useful
    how = "signal %d" % -r.returncode if r.returncode < 0 else "exit %d" % r.returncode
    return False, "ggml's CPU rope refuses %s (the probe died: %s; %s)" % (dname, how, last)


def bench_cell(np, g, lib, name, dname, threads, rounds, target, settle, rng):
    """Every thread count of one shape x dtype; returns rows."""
    shape = SHAPES[name]
    b, s, hq, hk, d, _ = shape
    ntok, pos = b * s, positions(name)
    case = GgmlCase(g, dname, d, hq, hk, ntok)
    try:
        q = case.array(np, case.q, (ntok, hq, d), dname)
        k = case.array(np, case.k, (ntok, hk, d), dname)
        q[...] = from_f32(np, rng.uniform(-1, 1, q.shape).astype(np.float32), dname)
        k[...] = from_f32(np, rng.uniform(-1, 1, k.shape).astype(np.float32), dname)
        case.array(np, case.pos, (ntok,), "f32").view(np.int32)[...] = pos
        qo = case.array(np, case.lq, q.shape, dname)
        ko = case.array(np, case.lk, k.shape, dname)
        ptrs = (q.ctypes.data, qo.ctypes.data, k.ctypes.data, ko.ctypes.data)
        rows = []
        for th in threads:
            fns, names, row = [], [], {"shape": name, "dtype": dname, "threads": th}
            for style in STYLES:
                gf = case.fn(style, th)
                st = gf()
                outs = [case.array(np, t, x.shape, dname) for t, x in zip(case.outs[style], (q, k))]
                err = max(max_error(np, x, y, pos, style, dname) for x, y in zip((q, k), outs))
                row["ggml_%s_max_err" % style] = err
                if st != 0 or err > TOL[dname]:
                    row["ggml_%s_note" % style] = "not timed: status %d, max error %.3g > %g" % (
                        st, err, TOL[dname])
                else:
                    fns.append(gf)
                    names.append("ggml_%s_us" % style)
                lf = lib.fn(style, th, shape, pos, ptrs, dname)
                err = max(max_error(np, x, y, pos, style, dname) for x, y in ((q, qo), (k, ko)))
                row["librope_%s_max_err" % style] = err
                if err > TOL[dname]:
                    row["librope_%s_note" % style] = "not timed: max error %.3g > %g" % (
                        err, TOL[dname])
                else:
                    fns.append(lf)
                    names.append("librope_%s_us" % style)
            for key, sec in zip(names, measure(fns, rounds, target, settle if th > 1 else 0)):
                row[key] = sec * 1e6
            for style in STYLES:
                gk, lk = "ggml_%s_us" % style, "librope_%s_us" % style
                if gk in row and lk in row:
                    row["ggml_over_librope_%s" % style] = row[gk] / row[lk]
            rows.append(row)
            print("peer_ggml: %s %s %d thr: %s" % (name, dname, th, ", ".join(
                "%s %.2f" % (kk, v) for kk, v in row.items()
                if kk.endswith("_us") or kk.startswith("ggml_over"))), file=sys.stderr)
        return rows
    finally:
        case.free()


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    libdir, pyver = ggml_dir(a.ggml_dir)
    if libdir is None:
        print(json.dumps({"error": "llama-cpp-python (which ships ggml) is not installed for %s"
                          % sys.executable}))
        return 0
    try:
        import numpy as np
        g = Ggml(libdir)
    except (ImportError, OSError, AttributeError) as exc:
        print(json.dumps({"error": "ggml not loadable with %s: %s" % (sys.executable, exc)}))
        return 0
    if a.probe:
        return probe(g, a.probe)
    out = {"peer": "ggml", "ggml_version": g.version, "ggml_commit": g.commit,
           "llama_cpp_python": pyver, "python": sys.version.split()[0], "rounds": a.rounds,
           "timed": "ggml_graph_compute of a prebuilt graph (q and k rope ops) vs "
                    "rope_apply_qk (q and k), one ctypes call each",
           "tolerance": {d: TOL[d] for d in a.dtypes}, "apply": [], "skipped": {}}
    if not a.lib:
        out["error"] = "no --lib: librope.so is needed to time librope beside ggml"
        print(json.dumps(out))
        return 0
    try:
        lib = Librope(a.lib, 128)
    except (OSError, RuntimeError, AttributeError) as exc:
        out["error"] = "librope not loadable: %s" % exc
        print(json.dumps(out))
        return 0
    out["librope_isa"] = lib.isa
    target = 0.002 if a.quick else 0.01
    # What one call costs from Python with no work (rope_apply_qk refusing a NULL params
    # pointer, the same closure and arguments otherwise): every timed call carries about
    # this much, on both sides, so decode ratios sit closer to 1 than they would in C.
    buf = np.zeros(128 * 40, dtype=np.float32)  # alive while nop is used
    p = buf.ctypes.data
    nop = lib.fn("half", 1, SHAPES["decode"], positions("decode"), (p, p, p, p), "f32",
                 refused=True)
    out["call_overhead_us"] = 1e6 * measure([nop], a.rounds, target, 0)[0]
    rng = np.random.default_rng(0)
    for dname in a.dtypes:
        ok, why = dtype_supported(libdir, dname)
        if not ok:
            out["skipped"][dname] = why
            print("peer_ggml: %s n/a: %s" % (dname, why), file=sys.stderr)
            continue
        for name in a.shapes:
            out["apply"] += bench_cell(np, g, lib, name, dname, a.threads, a.rounds, target,
                                  a.settle, rng)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
