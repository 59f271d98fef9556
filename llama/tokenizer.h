/*
 * GPT-2 style byte-level BPE tokenizer built from a GGUF file's metadata
 * (tokenizer.ggml.model = "gpt2"): tokenizer.ggml.tokens, .merges,
 * .token_type, .bos_token_id, .eos_token_id, and the pre-tokeniser named by
 * tokenizer.ggml.pre (SmolLM2: "smollm").
 *
 * Encoding: (optionally) split out special tokens written literally in the
 * text, pre-tokenise each remaining piece with the GPT-2 regex semantics
 * (contractions, letters, numbers, punctuation, whitespace; UTF-8 aware,
 * letters/numbers by Unicode category), map bytes to GPT-2's printable
 * "byte-to-unicode" characters, then apply the merges by rank. Decoding maps
 * the characters back to bytes. Checked against llama.cpp's tokenizer
 * (tests/golden/llama/).
 */
#ifndef ROPE_TOKENIZER_H
#define ROPE_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "gguf.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tokenizer tokenizer;

/* Token types as stored in tokenizer.ggml.token_type (llama.cpp numbering). */
enum {
    TOKEN_TYPE_NORMAL = 1,
    TOKEN_TYPE_UNKNOWN = 2,
    TOKEN_TYPE_CONTROL = 3,
    TOKEN_TYPE_USER_DEFINED = 4,
    TOKEN_TYPE_UNUSED = 5,
    TOKEN_TYPE_BYTE = 6
};

/* Build from the GGUF's metadata (copied: the gguf_file may be closed
 * afterwards). Returns GGUF_OK or a gguf_status with a reason in err. */
int tokenizer_from_gguf(const gguf_file *f, tokenizer **out, char *err, size_t errlen);
void tokenizer_free(tokenizer *t);

int32_t tokenizer_n_vocab(const tokenizer *t);
int32_t tokenizer_bos(const tokenizer *t);      /* -1 when the file has none */
int32_t tokenizer_eos(const tokenizer *t);      /* -1 when the file has none */
/* 1 for tokens that end a generation: eos, <|im_end|>, <|endoftext|>, eot. */
int tokenizer_is_eog(const tokenizer *t, int32_t id);
/* 1 for control / user-defined tokens (the ones parse_special matches). */
int tokenizer_is_special(const tokenizer *t, int32_t id);
int tokenizer_token_type(const tokenizer *t, int32_t id);
/* The vocabulary entry as stored (byte-to-unicode form, NUL-terminated). */
const char *tokenizer_token_text(const tokenizer *t, int32_t id);
/* Exact vocabulary lookup of a stored token string; -1 if absent. */
int32_t tokenizer_find(const tokenizer *t, const char *token_text);

/* Encode len bytes of UTF-8 text. With parse_special, literal special tokens
 * in the text (e.g. "<|im_start|>") become their ids; otherwise they are
 * ordinary text. No BOS is added (SmolLM2 adds none). On success *ids is a
 * malloc'd array of *n_ids ids (free() it; may be NULL when *n_ids == 0).
 * Each invalid UTF-8 byte is read as U+FFFD, as llama.cpp does (so such text
 * does not round-trip). */
int tokenizer_encode(const tokenizer *t, const char *text, size_t len, int parse_special,
                     int32_t **ids, size_t *n_ids, char *err, size_t errlen);

/* The bytes of one token (for streaming): writes at most cap bytes into buf
 * and returns the full byte length (like snprintf, no NUL added), or -1 for
 * an id out of range. Control tokens give their text only when
 * render_special is non-zero, else 0 bytes. A token may end in the middle
 * of a UTF-8 character; the next token continues it. */
int tokenizer_token_bytes(const tokenizer *t, int32_t id, int render_special,
                          char *buf, size_t cap);

/* Decode ids to a malloc'd NUL-terminated byte string (*len bytes before the
 * NUL; free() it). Ids out of range are an error (GGUF_E_ARG). */
int tokenizer_decode(const tokenizer *t, const int32_t *ids, size_t n_ids, int render_special,
                     char **out, size_t *len);

/* SmolLM2-Instruct's chat template (ChatML), for one user turn:
 *   <|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n
 * system == NULL uses the template's default system prompt
 * (TOKENIZER_DEFAULT_SYSTEM); system == "" omits the system turn.
 * Returns a malloc'd string (free() it), NULL on allocation failure.
 * Encode the result with parse_special = 1. */
#define TOKENIZER_DEFAULT_SYSTEM "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
char *tokenizer_chat_prompt(const char *system, const char *user);

#ifdef __cplusplus
}
#endif

#endif
