/* Errors as values: every rope_status has a sentence. */
#include "rope.h"

static const char *const messages[ROPE_STATUS_COUNT] = {
    [ROPE_OK] = "success",
    [ROPE_E_NULL] = "a required pointer is NULL",
    [ROPE_E_DIM] = "dimension is zero, odd, or larger than ROPE_MAX_HEAD_DIM",
    [ROPE_E_ROTARY_DIM] = "rotary_dim is larger than head_dim or does not match the table",
    [ROPE_E_SCALING] = "unknown RoPE scaling type",
    [ROPE_E_PARAM] = "a parameter is out of its valid range (or NaN/Inf)",
    [ROPE_E_POSITION] = "a position is negative or outside the table",
    [ROPE_E_OVERFLOW] = "a size or offset computation would overflow",
    [ROPE_E_OVERLAP] = "input and output overlap without being exactly in place",
    [ROPE_E_SHAPE] = "tensor shapes do not agree",
    [ROPE_E_DTYPE] = "unsupported or mismatched dtype",
    [ROPE_E_STYLE] = "RoPE convention not given (interleaved or half must be chosen)",
    [ROPE_E_NOMEM] = "out of memory",
    [ROPE_E_CAPACITY] = "KV cache capacity exceeded",
    [ROPE_E_THREADS] = "could not start worker threads",
    [ROPE_E_UNSUPPORTED] = "not supported by this build or CPU",
};

const char *rope_strerror(rope_status s) {
    if ((unsigned)s >= ROPE_STATUS_COUNT || !messages[s]) return "unknown rope_status";
    return messages[s];
}

size_t rope_dtype_size(rope_dtype t) {
    switch (t) {
    case ROPE_F32: return 4;
    case ROPE_F16: return 2;
    case ROPE_BF16: return 2;
    case ROPE_Q8: return 0; /* a cache format, not a tensor dtype */
    }
    return 0;
}

#define ROPE_STR2(x) #x
#define ROPE_STR(x) ROPE_STR2(x)

unsigned rope_version(void) { return ROPE_VERSION_NUMBER; }

const char *rope_version_string(void) {
    return ROPE_STR(ROPE_VERSION_MAJOR) "." ROPE_STR(ROPE_VERSION_MINOR) "." ROPE_STR(
        ROPE_VERSION_PATCH);
}
