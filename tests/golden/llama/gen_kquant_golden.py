#!/usr/bin/env python3
"""K-quant dequantisation references from the `gguf` Python package (ggml's
reference implementation in numpy, independent of tools/lib/gguf.c): random
super-blocks of Q4_K, Q5_K and Q6_K (every byte random, then the f16 scales set
to values in [-2, 2] so that no block is malformed), and rows of the real
Gemma 3 270M file (Q4_K and Q6_K tensors). Writes
tests/golden/llama/dequant/<TYPE>.bin (raw blocks) and <TYPE>.f32
(little-endian float32), gemma_<tensor>_row<r>.f32.
Run (a venv with gguf + numpy):
  python gen_kquant_golden.py [models/gemma-3-270m-q4_k_m.gguf]"""
import os
import sys

import numpy as np
from gguf import GGUFReader, GGMLQuantizationType as Q
from gguf.quants import dequantize

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dequant")
MODEL = sys.argv[1] if len(sys.argv) > 1 else "models/gemma-3-270m-q4_k_m.gguf"
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(20261129)
N_BLOCKS = 16
# type, block bytes, byte offsets of the f16 scales
for qt, nbytes, scale_at in ((Q.Q4_K, 144, (0, 2)), (Q.Q5_K, 176, (0, 2)), (Q.Q6_K, 210, (208,))):
    raw = rng.integers(0, 256, size=(N_BLOCKS, nbytes), dtype=np.uint8)
    for off in scale_at:
        sc = rng.uniform(-2, 2, size=N_BLOCKS).astype("<f2").view(np.uint8).reshape(N_BLOCKS, 2)
        raw[:, off:off + 2] = sc
    raw.tofile(os.path.join(OUT, qt.name + ".bin"))
    dequantize(raw, qt).astype("<f4").reshape(-1).tofile(os.path.join(OUT, qt.name + ".f32"))

if os.path.exists(MODEL):
    reader = GGUFReader(MODEL)
    for name, row in (("blk.0.attn_output.weight", 5), ("blk.0.ffn_down.weight", 600)):
        t = next(t for t in reader.tensors if t.name == name)
        d = dequantize(t.data, t.tensor_type).astype("<f4").reshape(-1, int(t.shape[0]))
        print(name, t.tensor_type.name, d.shape)
        d[row].tofile(os.path.join(OUT, f"gemma_{name}_row{row}.f32"))
print("gguf package", __import__("importlib.metadata").metadata.version("gguf"),
      "numpy", np.__version__)
