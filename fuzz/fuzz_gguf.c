/*
 * libFuzzer harness: GGUF reader (llama/gguf.c, gguf_open_memory). For an
 * accepted file every metadata value is read through the typed getters and
 * array accessors, and the first rows of every tensor of a supported type are
 * dequantised: all of it must stay inside the buffer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"

static void touch_value(const gguf_value *v, int depth) {
    if (v->type == GGUF_TYPE_STRING) {
        volatile char c = 0;
        for (uint64_t i = 0; i < v->v.str.len; i++) c ^= v->v.str.data[i];
        (void)c;
    }
    if (v->type != GGUF_TYPE_ARRAY || depth > 8) return;
    uint64_t n = gguf_array_len(v);
    for (uint64_t i = 0; i < n && i < 4096; i++) {
        int64_t iv;
        double dv;
        gguf_str sv;
        gguf_array_get_i64(v, i, &iv);
        gguf_array_get_f64(v, i, &dv);
        gguf_array_get_str(v, i, &sv);
        if (v->v.arr.items) touch_value(&v->v.arr.items[i], depth + 1);
    }
    /* out of range must be an error, not a read */
    int64_t iv;
    gguf_array_get_i64(v, n, &iv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* a private copy of exactly `size` bytes, so ASan sees any over-read */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    gguf_file *f = NULL;
    char err[256];
    if (gguf_open_memory(copy, size, &f, err, sizeof err) == GGUF_OK && f) {
        int64_t nkv = gguf_n_kv(f);
        for (int64_t i = 0; i < nkv; i++) {
            const gguf_kv *kv = gguf_kv_at(f, i);
            if (!kv) continue;
            touch_value(&kv->value, 0);
            char key[128];
            size_t kl = kv->key.len < sizeof key - 1 ? (size_t)kv->key.len : sizeof key - 1;
            memcpy(key, kv->key.data, kl);
            key[kl] = '\0';
            uint32_t u;
            int64_t i64;
            float fl;
            int b;
            gguf_str s;
            const gguf_value *arr;
            char buf[64];
            gguf_get_u32(f, key, &u);
            gguf_get_i64(f, key, &i64);
            gguf_get_f32(f, key, &fl);
            gguf_get_bool(f, key, &b);
            gguf_get_str(f, key, &s);
            gguf_get_array(f, key, &arr);
            gguf_get_cstr(f, key, buf, sizeof buf);
        }
        int64_t nt = gguf_n_tensors(f);
        for (int64_t i = 0; i < nt; i++) {
            const gguf_tensor *t = gguf_tensor_at(f, i);
            if (!t || !gguf_type_supported(t->type) || t->ne[0] == 0 || t->ne[0] > (1u << 16)) continue;
            uint64_t rows = t->n_elements / t->ne[0];
            uint64_t n_rows = rows < 4 ? rows : 4;
            float *out = malloc(sizeof(float) * (size_t)(n_rows * t->ne[0] + 1));
            if (out) gguf_dequantize_rows(t, 0, n_rows, out, err, sizeof err);
            if (out && rows) gguf_dequantize_rows(t, rows, 1, out, err, sizeof err); /* past the end: error */
            free(out);
        }
        gguf_find_tensor(f, "token_embd.weight");
        gguf_find_kv(f, "general.architecture");
    }
    gguf_close(f);
    free(copy);
    return 0;
}
