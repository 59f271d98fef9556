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

Shapes match bench/bench.c (layout batch, seq, heads, head_dim; q and k both
rotated). For each shape, dtype and thread count (torch.set_num_threads), the
contenders run in interleaved rounds (order alternating) and the median per
call is reported. Prints one JSON document; {"error": ...} when torch is
missing. Run with /usr/bin/python3 (Debian's python3-torch).
"""
import argparse
import json
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
                for th in threads:
                    torch.set_num_threads(th)
                    med = measure([lambda: hf_apply(q, k, cos, sin),
                                   lambda: meta_apply(q, k, fc),
                                   lambda: clone_apply(q, k)], rounds, target)
                    out["apply"].append({"shape": name, "dtype": dname, "threads": th,
                                         "hf_us": med[0] * 1e6, "meta_us": med[1] * 1e6,
                                         "clone_us": med[2] * 1e6})
                    print("peers: %s %s %d thr: hf %.1f us, meta %.1f us, clone %.1f us"
                          % (name, dname, th, med[0] * 1e6, med[1] * 1e6, med[2] * 1e6),
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
                med = measure([polar, polar_out], min(rounds, 7), target)
                out["table"].append({"threads": th, "rows": TABLE_ROWS, "freqs": TABLE_FREQS,
                                     "polar_us": med[0] * 1e6, "polar_out_us": med[1] * 1e6})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
