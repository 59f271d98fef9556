#!/usr/bin/env python3
"""Second reference for tests/test_llama.c: Hugging Face transformers loading
the same GGUF (gguf_file=, weights dequantised to float32 by the `gguf`
package, Q/K un-permuted to HF's rotate_half layout by transformers) and
running LlamaForCausalLM in float32 on the 64 prompt ids of prompt_ids.txt.
Unlike llama.cpp, nothing quantises the activations, so a float32 runner on
dequantised weights should match these logits much more tightly.

Setup (outside the project): a venv with torch, transformers and gguf, e.g.
    /usr/bin/python3 -m venv /tmp/hfenv && /tmp/hfenv/bin/pip install torch transformers gguf
Run from the repository root, after gen_llama_golden.py (which writes prompt_ids.txt):
    HF_HUB_OFFLINE=1 /tmp/hfenv/bin/python tests/golden/llama/gen_hf_golden.py \\
        [models/SmolLM2-135M-Instruct.Q4_1.gguf]
Writes hf_last_logits.f32, hf_top5.txt, hf_greedy.txt (formats as the llama.cpp files).
"""
import os
import sys

import numpy as np
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = sys.argv[1] if len(sys.argv) > 1 else "models/SmolLM2-135M-Instruct.Q4_1.gguf"
N_GREEDY = 32


def main():
    torch.manual_seed(0)
    d, name = os.path.split(os.path.abspath(MODEL))
    tok = AutoTokenizer.from_pretrained(d, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=name, dtype=torch.float32)
    model.eval()
    with open(os.path.join(HERE, "prompt_ids.txt")) as f:
        ids = [int(x) for x in f.read().split()]
    with open(os.path.join(HERE, "prompt.txt"), encoding="utf-8") as f:
        hf_ids = tok(f.read(), add_special_tokens=False)["input_ids"][: len(ids)]
    print("HF tokenizer agrees with llama.cpp on the prompt:", hf_ids == ids)

    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].float().numpy()
    logits[-1].astype("<f4").tofile(os.path.join(HERE, "hf_last_logits.f32"))
    with open(os.path.join(HERE, "hf_top5.txt"), "w") as f:
        f.write("# pos id logit (x5, largest first) from transformers (float32) on prompt_ids\n")
        for p in range(len(ids)):
            top = np.argsort(-logits[p], kind="stable")[:5]
            f.write(str(p) + "".join(f" {int(i)} {logits[p, i]:.6f}" for i in top) + "\n")
    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), max_new_tokens=N_GREEDY, do_sample=False,
                             min_new_tokens=N_GREEDY)
    gen = out[0, len(ids):].tolist()
    with open(os.path.join(HERE, "hf_greedy.txt"), "w") as f:
        f.write(" ".join(str(i) for i in gen) + "\n")
    print("transformers", transformers.__version__, "torch", torch.__version__)
    from importlib.metadata import version
    print("gguf", version("gguf"), "accelerate", version("accelerate"), "numpy", np.__version__)
    print("greedy text:", repr(tok.decode(gen)))


if __name__ == "__main__":
    main()
