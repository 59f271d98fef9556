#!/usr/bin/env python3
"""Dequantisation references from the `gguf` Python package (ggml's own
reference implementation in numpy, independent of llama/gguf.c):
random blocks of each supported type (f16 scales in [-2, 2]) and two rows of
the real model. Writes tests/golden/llama/dequant/<TYPE>.bin (raw blocks) and
<TYPE>.f32 (little-endian float32 values), model_<name>_row<r>.f32.
Run (a venv with gguf + numpy): python gen_dequant_golden.py [model.gguf]"""
import os
import sys

import numpy as np
from gguf import GGUFReader, GGMLQuantizationType as Q
from gguf.quants import dequantize

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dequant")
MODEL = sys.argv[1] if len(sys.argv) > 1 else "models/SmolLM2-135M-Instruct.Q4_1.gguf"
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(20261122)
N_BLOCKS = 8
for qt, nbytes, nscale in ((Q.Q4_0, 18, 1), (Q.Q4_1, 20, 2), (Q.Q5_0, 22, 1), (Q.Q5_1, 24, 2),
                           (Q.Q8_0, 34, 1)):
    raw = rng.integers(0, 256, size=(N_BLOCKS, nbytes), dtype=np.uint8)
    sc = rng.uniform(-2, 2, size=(N_BLOCKS, nscale)).astype("<f2").view(np.uint8)
    raw[:, : 2 * nscale] = sc.reshape(N_BLOCKS, 2 * nscale)
    raw.tofile(os.path.join(OUT, qt.name + ".bin"))
    dequantize(raw, qt).astype("<f4").reshape(-1).tofile(os.path.join(OUT, qt.name + ".f32"))
f16 = rng.uniform(-1e4, 1e4, size=64).astype("<f2").view(np.uint8)
f16.tofile(os.path.join(OUT, "F16.bin"))
dequantize(f16, Q.F16).astype("<f4").reshape(-1).tofile(os.path.join(OUT, "F16.f32"))
bf = rng.integers(0, 256, size=128, dtype=np.uint8)  # any bit pattern, NaNs included
bf.tofile(os.path.join(OUT, "BF16.bin"))
dequantize(bf, Q.BF16).astype("<f4").reshape(-1).tofile(os.path.join(OUT, "BF16.f32"))

reader = GGUFReader(MODEL)
for name, row in (("token_embd.weight", 1234), ("blk.3.attn_q.weight", 7)):
    t = next(t for t in reader.tensors if t.name == name)
    d = dequantize(t.data, t.tensor_type).astype("<f4").reshape(-1, int(t.shape[0]))
    d[row].tofile(os.path.join(OUT, f"model_{name}_row{row}.f32"))
print("gguf package", __import__("importlib.metadata").metadata.version("gguf"))
