#!/usr/bin/env python3
"""Speed of llama.cpp on the same model and prompt as `rope generate`: prefill of
a text, then greedy decode of N tokens, for each thread count, a few rounds
each (median). Used by `rope bench model` (--json) and by hand.

Needs llama-cpp-python (PyPI; builds llama.cpp from source), outside the project:
    /usr/bin/python3 -m venv /tmp/llamaenv && /tmp/llamaenv/bin/pip install llama-cpp-python numpy
Run from the repository root:
    /tmp/llamaenv/bin/python llama/bench_llamacpp.py [--json] [--threads 1,2] [-n 64]
Without llama-cpp-python it prints {"error": ...} (with --json) and exits 0.
"""
import argparse
import json
import statistics
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--prompt-file", default="tests/data/ppl/declaration_and_notes.txt")
    ap.add_argument("-n", type=int, default=64)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    try:
        import numpy as np
        import llama_cpp
        from llama_cpp import Llama
    except ImportError as e:
        msg = f"llama-cpp-python not importable with {sys.executable}: {e}"
        print(json.dumps({"error": msg}) if a.json else msg)
        return 0
    text = open(a.prompt_file, encoding="utf-8").read()
    rows = []
    for nt in (int(t) for t in a.threads.split(",")):
        llm = Llama(model_path=a.model, n_ctx=2048, n_threads=nt, n_threads_batch=nt,
                    n_batch=1024, verbose=False)
        ids = llm.tokenize(text.encode(), add_bos=False)
        pp, tg = [], []
        for _ in range(a.rounds):
            llm.reset()
            t = time.perf_counter()
            llm.eval(ids)
            pp.append(len(ids) / (time.perf_counter() - t))
            tok = int(np.argmax(llm.scores[llm.n_tokens - 1]))
            t = time.perf_counter()
            for _ in range(a.n):
                llm.eval([tok])
                tok = int(np.argmax(llm.scores[llm.n_tokens - 1]))
            tg.append(a.n / (time.perf_counter() - t))
        row = {"threads": nt, "prompt_tokens": len(ids), "gen_tokens": a.n,
               "prompt_tok_s": statistics.median(pp), "gen_tok_s": statistics.median(tg),
               "prompt_tok_s_all": pp, "gen_tok_s_all": tg}
        rows.append(row)
        if not a.json:
            print(f"llama.cpp threads {nt}: prompt {len(ids)} tokens {row['prompt_tok_s']:.1f} tok/s, "
                  f"generation {a.n} tokens {row['gen_tok_s']:.1f} tok/s")
    if a.json:
        print(json.dumps({"peer": "llama.cpp", "llama_cpp_python": llama_cpp.__version__,
                          "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
