#!/usr/bin/env python3
"""Speed of llama.cpp on the same model and prompt as `rope generate`, for
comparison in docs/llama.md. Greedy decode of 64 tokens after a prefill of the
ppl text (545 tokens), with 1 and 2 threads, twice each.

Needs llama-cpp-python (PyPI; builds llama.cpp from source), outside the project:
    /usr/bin/python3 -m venv /tmp/llamaenv && /tmp/llamaenv/bin/pip install llama-cpp-python numpy
Run from the repository root:
    /tmp/llamaenv/bin/python llama/bench_llamacpp.py
Compare with:
    ./build/rope generate --raw --prompt "$(cat tests/data/ppl/declaration_and_notes.txt)" -n 64 -t 1
"""
import time

import numpy as np
from llama_cpp import Llama

MODEL = "models/SmolLM2-135M-Instruct.Q4_1.gguf"
TEXT = "tests/data/ppl/declaration_and_notes.txt"
N_GEN = 64


def main():
    text = open(TEXT, encoding="utf-8").read()
    for nt in (1, 2):
        llm = Llama(model_path=MODEL, n_ctx=1024, n_threads=nt, n_threads_batch=nt, n_batch=1024,
                    verbose=False)
        ids = llm.tokenize(text.encode(), add_bos=False)
        for _ in range(2):
            llm.reset()
            t = time.perf_counter()
            llm.eval(ids)
            tp = time.perf_counter() - t
            tok = int(np.argmax(llm.scores[llm.n_tokens - 1]))
            t = time.perf_counter()
            for _ in range(N_GEN):
                llm.eval([tok])
                tok = int(np.argmax(llm.scores[llm.n_tokens - 1]))
            tg = time.perf_counter() - t
            print(f"llama.cpp threads {nt}: prompt {len(ids)} tokens {len(ids) / tp:.1f} tok/s, "
                  f"generation {N_GEN} tokens {N_GEN / tg:.1f} tok/s")


if __name__ == "__main__":
    main()
