#!/usr/bin/env python3
"""Golden data for tests/test_tokenizer.c and tests/test_llama.c, produced by
running llama.cpp (through llama-cpp-python, an implementation independent of
ours) on the same GGUF file. See README.md beside this script for the formats.

Setup (slow: it compiles llama.cpp from source; outside the project tree):
    /usr/bin/python3 -m venv /tmp/llamaenv
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_BLAS=OFF -DGGML_OPENMP=OFF" \\
        /tmp/llamaenv/bin/pip install llama-cpp-python
Run from the repository root:
    /tmp/llamaenv/bin/python tests/golden/llama/gen_llama_golden.py \\
        [models/SmolLM2-135M-Instruct.Q4_1.gguf]
"""
import os
import random
import sys

import numpy as np
import llama_cpp
from llama_cpp import Llama

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = sys.argv[1] if len(sys.argv) > 1 else "models/SmolLM2-135M-Instruct.Q4_1.gguf"

# Varied strings for the tokenizer: ASCII, contractions (lower and upper case),
# runs of spaces, newlines/tabs, digits, Latin accents, Greek/Cyrillic, CJK,
# Hangul, emoji (incl. ZWJ sequences and flags), code, non-ASCII numbers and
# spaces, punctuation runs, special-token text, and invalid UTF-8.
CASES = [
    b"Hello world",
    b"Hello, world! How are you today?",
    b"I'm sure they're here, we've seen it; you'll know he'd can't won't",
    b"I'M SHOUTING, DON'T YOU'LL WE'VE",
    b"  leading and   multiple    spaces  trailing   ",
    b"line one\nline two\n\n\nline five\r\n\ttabbed\t\tend\n",
    b"Digits: 0 12 345 6789 3.14159 1,000,000 and 2024-11-22 x86_64",
    "Unicode: café naïve façade Ærøskøbing straße Øresund".encode(),
    "Ελληνικά κείμενα и русский текст".encode(),
    "日本語のテキストと中文文本，한국어 텍스트".encode(),
    "Emoji: 😀👍🏽 🇫🇷 ❤️ family 👨‍👩‍👧‍👦!".encode(),
    b"def f(x):\n    return x**2 + 1  # comment\n\nprint(f(3))\n",
    "Arabic-Indic ٣٤٥, roman Ⅻ, fractions ½ and superscript x² ①".encode(),
    "Mixed\u00a0nbsp\u2003em-space\u3000ideographic\u2028sep".encode(),
    b"Wait... what?! (yes) [no] {maybe} <tag> @user #hash $100 50% a&b ---->",
    b"<|im_start|>user\nhi<|im_end|>",
    b" ",
    b"\n",
    b"ab\xff\xfecd\xc3 e\xe2\x82",
]

# The same string tokenised with special=True (special tokens as ids).
SPECIAL_CASES = [
    b"<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
    b"<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    b"text<|endoftext|>more<|im_end|><|im_end|> <|im_start|>",
]

# Random strings (seeded) mixing the pieces that stress the pre-tokeniser with
# random code points from the whole Unicode range.
PIECES = ["a", "Z", "the", " ", "  ", "   ", "\n", "\n\n", "\t", "\r\n", "7", "42", "'s", "'S",
          "'ll", "'", "\"", "é", "ß", "日本", "😀", "👍🏽", "...", "!?", ",", "-", "_", "(", ")",
          "<|im_end|>", "\u00a0", "\u2003", "٣", "Ⅻ", "½", "x²", "ñ", "İ", "ǅ", "\u0301", "\u200b",
          "\ufeff", "中文", "한국어", "Ελλ", "рус", "$", "%", "#", "@", "//", "==", "->", "0x1F",
          "3.14", "1,000"]


def random_cases(n, seed=7):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        s = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 25)))
        if i % 3 == 0:
            s += "".join(chr(rng.choice([rng.randint(0x20, 0x7E), rng.randint(0xA0, 0x2FFF),
                                         rng.randint(0x3000, 0xD7FF), rng.randint(0x10000, 0x1FAFF)]))
                         for _ in range(rng.randint(1, 12)))
        out.append(s.encode())
    return out


PROMPT = (
    "Alice was beginning to get very tired of sitting by her sister on the bank, and of "
    "having nothing to do: once or twice she had peeped into the book her sister was "
    "reading, but it had no pictures or conversations in it, \u201cand what is the use of a "
    "book,\u201d thought Alice \u201cwithout pictures or conversations?\u201d So she was "
    "considering in her own mind (as well as she could, for the hot day made her feel very "
    "sleepy and stupid), whether the pleasure of making a daisy-chain would be worth the "
    "trouble of getting up and picking the daisies."
)
N_PROMPT = 64
N_GREEDY = 32


def write_cases(path, cases, llm, special):
    with open(path, "w") as f:
        f.write(f"# llama.cpp tokenize(text, add_bos=False, special={special}); "
                "<hex of UTF-8 bytes>\\t<ids>\n")
        for text in cases:
            ids = llm.tokenize(text, add_bos=False, special=special)
            f.write(text.hex() + "\t" + " ".join(str(i) for i in ids) + "\n")


def main():
    llm = Llama(model_path=MODEL, logits_all=True, n_ctx=128, n_threads=2, seed=0,
                verbose=False)
    n_vocab = llm.n_vocab()
    write_cases(os.path.join(HERE, "tokenizer_cases.txt"), CASES, llm, False)
    write_cases(os.path.join(HERE, "tokenizer_special_cases.txt"), SPECIAL_CASES, llm, True)
    write_cases(os.path.join(HERE, "tokenizer_random_cases.txt"), random_cases(300), llm, False)

    with open(os.path.join(HERE, "prompt.txt"), "w", encoding="utf-8") as f:
        f.write(PROMPT)
    ids = llm.tokenize(PROMPT.encode(), add_bos=False, special=False)
    assert len(ids) >= N_PROMPT, len(ids)
    ids = ids[:N_PROMPT]
    with open(os.path.join(HERE, "prompt_ids.txt"), "w") as f:
        f.write(" ".join(str(i) for i in ids) + "\n")

    llm.reset()
    llm.eval(ids)
    scores = np.array(llm.scores[:N_PROMPT], dtype=np.float32)
    assert scores.shape == (N_PROMPT, n_vocab), scores.shape
    scores[N_PROMPT - 1].astype("<f4").tofile(os.path.join(HERE, "last_logits.f32"))
    with open(os.path.join(HERE, "top5.txt"), "w") as f:
        f.write("# pos id logit (x5, largest first) from llama.cpp after eval(prompt_ids)\n")
        for p in range(N_PROMPT):
            top = np.argsort(-scores[p], kind="stable")[:5]
            f.write(str(p) + "".join(f" {int(i)} {scores[p, i]:.6f}" for i in top) + "\n")

    # Greedy continuation: argmax of llama.cpp's own logits, one token at a time.
    gen = []
    nxt = int(np.argmax(scores[N_PROMPT - 1]))
    for _ in range(N_GREEDY):
        gen.append(nxt)
        llm.eval([nxt])
        nxt = int(np.argmax(np.asarray(llm.scores[llm.n_tokens - 1], dtype=np.float32)))
    with open(os.path.join(HERE, "greedy.txt"), "w") as f:
        f.write(" ".join(str(i) for i in gen) + "\n")

    print("llama-cpp-python", llama_cpp.__version__)
    print("system info:", llama_cpp.llama_print_system_info().decode())
    print("n_vocab", n_vocab, "prompt tokens", len(ids))
    print("greedy text:", repr(llm.detokenize(gen).decode("utf-8", "replace")))


if __name__ == "__main__":
    main()
