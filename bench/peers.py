#!/usr/bin/env python3
"""PyTorch peers for `rope bench --peers`: times the eager forms of the seeds.

  hf     Hugging Face: q*cos + rotate_half(q)*sin (cos/sin in the tensor's dtype,
         pre-gathered for the positions, as HF's rotary module hands them over)
  meta   Meta llama: view_as_complex(q.float()) * freqs_cis, view_as_real,
         type_as(q) (freqs_cis pre-gathered for the positions)
  clone  torch.clone of the same tensors: PyTorch's own copy of the same bytes
  polar  table building: torch.polar(ones_like(f), f) with f = outer(t, freqs)
         for 131072 positions x 64 frequencies (Meta's precompute_freqs_cis);
         polar_out: the same into preallocated tensors (out=)

With --lib PATH/librope.so (rope bench passes the one it was built with),
librope itself runs in the same rounds of the same process through ctypes:
rope_apply_qk on the same tensors (both conventions, a rope_pool of the same
thread count) and rope_table_create (rope_table_create_pool on a pool of the
same thread count as torch's), so the ratios librope/peer come from one
process and one interleaved schedule.

Shapes match bench/bench.c (layout batch, seq, heads, head_dim; q and k both
rotated). For each shape, dtype and thread count (torch.set_num_threads), the
contenders run in interleaved rounds (order alternating) and the median per
call is reported. Prints one JSON document; {"error": ...} when torch is
missing. Run with /usr/bin/python3 (Debian's python3-torch).
"""
import ctypes
import argparse
import json
import os
import statistics
import sys
import time

try:
    import torch
except Exception as exc:  # noqa: BLE001 - any import failure means "no peer"
    print(json.dumps({"error": "torch not importable: %s" % exc}))
    sys.exit(0)

# name: (batch, seq, q heads, kv heads, head_dim, per-row positions)
SHAPES = {
    "decode": (1, 1, 32, 8, 128, False),
    "decode-b32": (32, 1, 32, 8, 128, True),
    "prefill-512": (1, 512, 32, 32, 128, False),
    "prefill-4096": (1, 4096, 32, 32, 128, False),
}
DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}
BASE = 10000.0
TABLE_ROWS, TABLE_FREQS = 131072, 64


# ------------------------------------------------------------------ librope
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # rope_ctypes.py lies beside this file
from rope_ctypes import ROPE_DTYPE, ROPE_STYLE, RopeApplyParams, RopePositions, RopeTensor, load  # noqa: E402


class Librope:
    """The few librope calls the peers comparison needs."""

    def __init__(self, path):
        L = self.L = load(path)
        self.isa = L.rope_isa_name().decode()
        # rope_config: type (enum) at 0, rope_theta (double) at 8, head_dim (int64) at 16
        self.cfg = ctypes.create_string_buffer(4096)
        L.rope_config_init(self.cfg)
        if ctypes.c_double.from_buffer(self.cfg, 8).value != 10000.0:
            raise RuntimeError("rope_config layout differs from what peers.py assumes")
        ctypes.c_int64.from_buffer(self.cfg, 16).value = 128
        self.freqs = ctypes.create_string_buffer(1 << 16)  # > sizeof(rope_freqs)
        if L.rope_freqs_compute(self.cfg, 0, self.freqs) != 0:
            raise RuntimeError("rope_freqs_compute failed")
        self.table = ctypes.c_void_p()
        if L.rope_table_create(self.freqs, 8192, 0, ctypes.byref(self.table)) != 0:
            raise RuntimeError("rope_table_create failed")
        self.pools = {}

    def pool(self, threads):
        if threads <= 1:
            return None
        if threads not in self.pools:
            p = ctypes.c_void_p()
            if self.L.rope_pool_create(threads, ctypes.byref(p)) != 0:
                raise RuntimeError("rope_pool_create failed")
            self.pools[threads] = p
        return self.pools[threads]

    def tensor(self, t, dname):
        v = RopeTensor()
        b, s, h, d = t.shape
        self.L.rope_tensor_contiguous(ctypes.byref(v), t.data_ptr(), ROPE_DTYPE[dname], b, s, h, d)
        return v

    def apply_fn(self, style, threads, pos_ids, per_row, q, k, qo, ko, dname):
        """A closure calling rope_apply_qk(q -> qo, k -> ko), checked once."""
        p = RopeApplyParams(ROPE_STYLE[style], self.table, None, q.shape[-1], 1.0, 0,
                            self.pool(threads))
        pos = RopePositions()
        ids = None
        if per_row:
            ids = (ctypes.c_int64 * len(pos_ids))(*pos_ids)
            pos.ids = ctypes.cast(ids, ctypes.c_void_p)
            pos.ids_batch_stride = 1
        else:
            pos.offset = pos_ids[0]
        ts = [self.tensor(x, dname) for x in (q, qo, k, ko)]
        args = (ctypes.byref(p), ctypes.byref(pos)) + tuple(ctypes.byref(t) for t in ts)
        keep = (p, pos, ids, ts)  # noqa: F841 - alive as long as the closure
        st = self.L.rope_apply_qk(*args)
        if st != 0:
            raise RuntimeError("rope_apply_qk failed with status %d" % st)
        fn = self.L.rope_apply_qk

        def run():
            fn(*args)
            return keep
        return run

    def table_fn(self, rows, threads=1):
        """rope_table_create; with threads > 1 rope_table_create_pool on a pool of
        that many threads (the same rows, split)."""
        cfg = ctypes.create_string_buffer(4096)
        self.L.rope_config_init(cfg)
        ctypes.c_int64.from_buffer(cfg, 16).value = 2 * TABLE_FREQS
        fr = ctypes.create_string_buffer(1 << 16)
        self.L.rope_freqs_compute(cfg, 0, fr)
        L = self.L
        pool = self.pool(threads)
        L.rope_table_create_pool.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int,
                                             ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]

        def run():
            t = ctypes.c_void_p()
            if L.rope_table_create_pool(fr, rows, 0, pool, ctypes.byref(t)) != 0:
                raise RuntimeError("rope_table_create_pool failed")
            L.rope_table_free(t)
            return cfg
        return run


def positions(name):
    b, s, _, _, _, per_row = SHAPES[name]
    if per_row:
        return torch.tensor([[17 + 123 * i] for i in range(b)])
    start = 4000 if s == 1 else 0
    return torch.arange(start, start + s).unsqueeze(0).expand(b, s)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def hf_apply(q, k, cos, sin):
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


def meta_apply(q, k, fc):
    q_ = torch.view_as_complex(q.float().reshape(*q.shape[:-1], -1, 2))
    k_ = torch.view_as_complex(k.float().reshape(*k.shape[:-1], -1, 2))
    qo = torch.view_as_real(q_ * fc).flatten(3)
    ko = torch.view_as_real(k_ * fc).flatten(3)
    return qo.type_as(q), ko.type_as(k)


def clone_apply(q, k):
    return q.clone(), k.clone()


def calibrate(fn, target_s):
    fn()
    iters = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        dt = time.perf_counter() - t0
        if dt >= target_s or iters >= 1 << 20:
            return iters, dt / iters
        iters = min(iters * 16, int(iters * target_s / max(dt, 1e-9) * 1.2) + 1)


def measure(fns, rounds, target_s):
    """Median seconds per call of each fn, interleaved rounds."""
    cal = [calibrate(f, target_s) for f in fns]
    # very slow contenders (f16 eager on CPU) get fewer rounds
    if max(c[1] for c in cal) > 0.1:
        rounds = min(rounds, 3)
    samples = [[] for _ in fns]
    for r in range(rounds):
        order = range(len(fns)) if r % 2 == 0 else reversed(range(len(fns)))
        for i in order:
            iters = cal[i][0]
            t0 = time.perf_counter()
            for _ in range(iters):
                fns[i]()
            samples[i].append((time.perf_counter() - t0) / iters)
    return [statistics.median(s) for s in samples]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="(always JSON; kept for symmetry)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--dtypes", default="f32,f16,bf16")
    ap.add_argument("--rounds", type=int, default=0)
    ap.add_argument("--no-table", action="store_true")
    ap.add_argument("--lib", help="librope.so to time in the same rounds (ctypes)")
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",") if t]
    rounds = args.rounds or (5 if args.quick else 11)
    target = 0.002 if args.quick else 0.01

    d = 128
    inv_freq = 1.0 / (BASE ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
    t = torch.arange(8192, dtype=torch.float32)
    freqs = torch.outer(t, inv_freq)  # (8192, 64) float32, HF/Meta recipe
    emb = torch.cat((freqs, freqs), dim=-1)
    cos_tab, sin_tab = emb.cos(), emb.sin()
    cis_tab = torch.polar(torch.ones_like(freqs), freqs)

    out = {"torch": torch.__version__, "python": sys.version.split()[0], "rounds": rounds,
           "apply": [], "table": []}
    lib = None
    if args.lib:
        try:
            lib = Librope(args.lib)
            out["librope_isa"] = lib.isa
        except (OSError, RuntimeError) as exc:
            out["librope_error"] = str(exc)
            print("peers: librope not timed in-process: %s" % exc, file=sys.stderr)
    torch.manual_seed(0)
    with torch.inference_mode():
        for name in args.shapes.split(","):
            if name not in SHAPES:
                continue
            b, s, hq, hk, hd, _ = SHAPES[name]
            pos = positions(name)
            for dname in args.dtypes.split(","):
                dt = DTYPES[dname]
                q = (torch.rand(b, s, hq, hd) * 2 - 1).to(dt)
                k = (torch.rand(b, s, hk, hd) * 2 - 1).to(dt)
                cos = cos_tab[pos].unsqueeze(2).to(dt)  # (b, s, 1, d)
                sin = sin_tab[pos].unsqueeze(2).to(dt)
                fc = cis_tab[pos].unsqueeze(2)  # (b, s, 1, d/2) complex64
                qo, ko = torch.empty_like(q), torch.empty_like(k)
                pos_list = [int(v) for v in pos[:, 0]] if SHAPES[name][5] else [int(pos[0, 0])]
                for th in threads:
                    torch.set_num_threads(th)
                    fns = [lambda: hf_apply(q, k, cos, sin),
                           lambda: meta_apply(q, k, fc),
                           lambda: clone_apply(q, k)]
                    if lib:
                        for style in ("half", "interleaved"):
                            fns.append(lib.apply_fn(style, th, pos_list, SHAPES[name][5],
                                                    q, k, qo, ko, dname))
                    med = measure(fns, rounds, target)
                    row = {"shape": name, "dtype": dname, "threads": th,
                           "hf_us": med[0] * 1e6, "meta_us": med[1] * 1e6,
                           "clone_us": med[2] * 1e6}
                    if lib:
                        row["librope_half_us"] = med[3] * 1e6
                        row["librope_interleaved_us"] = med[4] * 1e6
                    out["apply"].append(row)
                    print("peers: %s %s %d thr: %s" % (name, dname, th, ", ".join(
                        "%s %.1f us" % (k_, v) for k_, v in row.items() if k_.endswith("_us"))),
                        file=sys.stderr)
        if not args.no_table:
            tt = torch.arange(TABLE_ROWS, dtype=torch.float32)
            f64 = inv_freq[:TABLE_FREQS]

            def polar():
                f = torch.outer(tt, f64).float()
                return torch.polar(torch.ones_like(f), f)

            # the same into preallocated tensors: the arithmetic without allocation
            ang = torch.empty(TABLE_ROWS, TABLE_FREQS)
            ones = torch.ones(TABLE_ROWS, TABLE_FREQS)
            cis = torch.empty(TABLE_ROWS, TABLE_FREQS, dtype=torch.complex64)

            def polar_out():
                torch.outer(tt, f64, out=ang)
                return torch.polar(ones, ang, out=cis)

            for th in threads:
                torch.set_num_threads(th)
                fns = [polar, polar_out] + ([lib.table_fn(TABLE_ROWS, th)] if lib else [])
                med = measure(fns, min(rounds, 7), target)
                row = {"threads": th, "rows": TABLE_ROWS, "freqs": TABLE_FREQS,
                       "polar_us": med[0] * 1e6, "polar_out_us": med[1] * 1e6}
                if lib:
                    row["librope_table_create_us"] = med[2] * 1e6
                out["table"].append(row)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
