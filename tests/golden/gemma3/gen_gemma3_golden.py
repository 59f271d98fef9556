#!/usr/bin/env python3
"""Gemma 3 270M references for test_gemma3: Hugging Face transformers (float32,
eager attention) running the SAME dequantised weights as librope's runner,
loaded from models/gemma-3-270m-q4_k_m.gguf by transformers' own GGUF reader
(which dequantises with the `gguf` package and subtracts the +1 that llama.cpp's
converter folds into Gemma's RMSNorm weights).

Writes into tests/golden/gemma3/:
  tokenizer_cases.txt  one case per line: the JSON string, a tab, the ids HF gives
                       (add_special_tokens=False)
  short.txt            prompt ids (BOS first); per position the top-5 ids and logits
  long.txt             a prompt past the 512-token sliding window: ids; last
                       position's top-20 ids/logits and the logits of every 64th
                       vocabulary id
  greedy.txt           prompt ids and the 24-token greedy continuation (HF generate)
  versions.txt         package versions
Run: python gen_gemma3_golden.py [models/gemma-3-270m-q4_k_m.gguf]"""
import importlib.metadata as md
import json
import os
import sys

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

HERE = os.path.dirname(os.path.abspath(__file__))
GGUF = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "models/gemma-3-270m-q4_k_m.gguf")
torch.manual_seed(0)
tok = AutoTokenizer.from_pretrained(os.path.dirname(GGUF), gguf_file=os.path.basename(GGUF))
# from_pretrained(gguf_file=...) wants `accelerate`; the same reader without it:
# transformers' load_gguf_checkpoint gives the config and the processed tensors.
config = AutoConfig.from_pretrained(os.path.dirname(GGUF), gguf_file=os.path.basename(GGUF))
config._attn_implementation = "eager"
model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
parsed = load_gguf_checkpoint(GGUF, return_tensors=True, model_to_load=model)
state = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in parsed["tensors"].items()}
missing, unexpected = model.load_state_dict(state, strict=False)
missing = [k for k in missing if k != "lm_head.weight"]  # tied to the embedding
assert not missing and not unexpected, (missing, unexpected)
model.tie_weights()
model.eval()
cfg = model.config
print("config:", cfg.model_type, "layers", cfg.num_hidden_layers, "layer_types", cfg.layer_types,
      "sliding_window", cfg.sliding_window, "rope", getattr(cfg, "rope_parameters", None),
      "query_pre_attn_scalar", cfg.query_pre_attn_scalar, file=sys.stderr)

cases = ["The capital of France is", "Hello world", "  two leading spaces", "tabs\tand\nnewlines\n\n",
         "Numbers 1234567890 and 3.14159", "ünïcödé, 日本語, emoji 😀", "In the beginning God created",
         "a" * 40, "<bos> is only text here", "end with space "]
with open(os.path.join(HERE, "tokenizer_cases.txt"), "w") as f:
    for c in cases:
        ids = tok(c, add_special_tokens=False)["input_ids"]
        f.write(json.dumps(c) + "\t" + " ".join(map(str, ids)) + "\n")

BOS = tok.bos_token_id


@torch.no_grad()
def logits_of(ids):
    return model(torch.tensor([ids])).logits[0].float()


short = [BOS] + tok("The quick brown fox jumps over the lazy dog. The capital of France is",
                    add_special_tokens=False)["input_ids"]
lg = logits_of(short)
with open(os.path.join(HERE, "short.txt"), "w") as f:
    f.write("ids " + " ".join(map(str, short)) + "\n")
    for p in range(len(short)):
        v, i = torch.topk(lg[p], 5)
        f.write(f"pos {p} " + " ".join(f"{int(a)}:{float(b)!r}" for a, b in zip(i, v)) + "\n")

text = open(os.path.join(HERE, "long_text.txt")).read()
long_ids = ([BOS] + tok(text, add_special_tokens=False)["input_ids"])[:640]
lg = logits_of(long_ids)[-1]
with open(os.path.join(HERE, "long.txt"), "w") as f:
    f.write("ids " + " ".join(map(str, long_ids)) + "\n")
    v, i = torch.topk(lg, 20)
    f.write("top " + " ".join(f"{int(a)}:{float(b)!r}" for a, b in zip(i, v)) + "\n")
    f.write("every64 " + " ".join(repr(float(x)) for x in lg[::64]) + "\n")

prompt = [BOS] + tok("Once upon a time, in a small village by the sea,", add_special_tokens=False)["input_ids"]
out = model.generate(torch.tensor([prompt]), max_new_tokens=24, do_sample=False)[0].tolist()
with open(os.path.join(HERE, "greedy.txt"), "w") as f:
    f.write("prompt " + " ".join(map(str, prompt)) + "\n")
    f.write("greedy " + " ".join(map(str, out[len(prompt):])) + "\n")
    f.write("text " + json.dumps(tok.decode(out[len(prompt):])) + "\n")

with open(os.path.join(HERE, "versions.txt"), "w") as f:
    for p in ("transformers", "torch", "gguf", "numpy"):
        f.write(f"{p} {md.version(p)}\n")
print("done", file=sys.stderr)
