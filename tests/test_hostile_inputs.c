/*
 * Hostile input to the command line's readers (issue 14): config.json strings
 * with an embedded NUL (in a value and in a key), invalid UTF-8 and raw
 * control bytes, over-long names truncated inside a character, and the JSON
 * writer given bytes that are not UTF-8. Every refusal must name the key or
 * place; every accepted config's strings, and everything written as JSON,
 * must be valid UTF-8.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cli_util.h"
#include "config_json.h"

/* Strict UTF-8 check (RFC 3629), independent of the code under test. */
static int valid_utf8(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k;
        unsigned cp;
        if (c < 0x80) k = 1, cp = c;
        else if ((c & 0xE0) == 0xC0) k = 2, cp = c & 0x1F;
        else if ((c & 0xF0) == 0xE0) k = 3, cp = c & 0x0F;
        else if ((c & 0xF8) == 0xF0) k = 4, cp = c & 0x07;
        else return 0;
        if (i + k > n) return 0;
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        static const unsigned min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += k;
    }
    return 1;
}

/* Parse text; expect failure whose message contains want. */
static void expect_refused(const char *json, size_t len, const char *want) {
    hf_config h;
    char err[400];
    int rc = hf_config_parse(json, len, &h, err, sizeof err);
    CHECK_MSG(rc != 0, "accepted: %.*s", (int)len, json);
    CHECK_MSG(rc == 0 || strstr(err, want), "message \"%s\" lacks \"%s\"", err, want);
    hf_config_free(&h);
}

static void test_config_strings(void) {
    /* a NUL in the value: once read as rope_type "linear" */
    const char v_nul[] = "{\"model_type\":\"llama\",\"head_dim\":64,"
                         "\"rope_scaling\":{\"rope_type\":\"linear\\u0000yarn\",\"factor\":2}}";
    expect_refused(v_nul, sizeof v_nul - 1, "\"rope_type\" contains a NUL");
    /* a NUL in a key: once read as the key "factor" */
    const char k_nul[] = "{\"model_type\":\"llama\",\"head_dim\":64,"
                         "\"rope_scaling\":{\"rope_type\":\"linear\",\"factor\\u0000x\":2}}";
    expect_refused(k_nul, sizeof k_nul - 1, "key \"factor\\u0000x\" contains a NUL");
    /* the same key without the NUL is fine (the refusal is about the NUL) */
    const char ok[] = "{\"model_type\":\"llama\",\"head_dim\":64,"
                      "\"rope_scaling\":{\"rope_type\":\"linear\",\"factor\":2}}";
    hf_config h;
    char err[400];
    CHECK(hf_config_parse(ok, sizeof ok - 1, &h, err, sizeof err) == 0);
    CHECK(h.rope.type == ROPE_SCALING_LINEAR && h.rope.factor == 2.0);
    hf_config_free(&h);
    /* an escaped backslash before u0000 is not a NUL */
    const char esc[] = "{\"model_type\":\"a\\\\u0000b\",\"head_dim\":64}";
    CHECK(hf_config_parse(esc, sizeof esc - 1, &h, err, sizeof err) == 0);
    CHECK(strcmp(h.model_type, "a\\u0000b") == 0);
    hf_config_free(&h);

    /* invalid UTF-8: a lone continuation byte, an overlong '/', a surrogate, > U+10FFFF, truncated */
    const char *bad_utf8[] = {"\x80", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x82"};
    for (int i = 0; i < 5; i++) {
        char j[160];
        int n = snprintf(j, sizeof j, "{\"model_type\":\"ll%sama\",\"head_dim\":64}", bad_utf8[i]);
        expect_refused(j, (size_t)n, "not valid UTF-8 at line 1, column 18");
        n = snprintf(j, sizeof j, "{\"head_dim\":64,\n\"x%s\":1}", bad_utf8[i]);
        expect_refused(j, (size_t)n, "line 2");
    }
    /* a raw control byte inside a string (Python's json refuses it too) */
    const char ctl[] = "{\"model_type\":\"ll\x01" "ama\",\"head_dim\":64}";
    expect_refused(ctl, sizeof ctl - 1, "control byte 0x01");

    /* valid multi-byte text is accepted, and a name longer than the field is
     * cut at a character boundary: what is kept stays valid UTF-8 */
    char big[400];
    int n = snprintf(big, sizeof big, "{\"model_type\":\"");
    for (int i = 0; i < 40; i++) n += snprintf(big + n, sizeof big - (size_t)n, "\xE2\x82\xAC"); /* € */
    n += snprintf(big + n, sizeof big - (size_t)n, "\",\"head_dim\":64}");
    CHECK(hf_config_parse(big, (size_t)n, &h, err, sizeof err) == 0);
    CHECK(strlen(h.model_type) == 63 && valid_utf8((const unsigned char *)h.model_type, 63));
    hf_config_free(&h);
}

/* cli_json_str on arbitrary bytes: the output is valid UTF-8 and valid JSON
 * string syntax (checked by decoding it back where it was valid). */
static void test_json_writer(void) {
    const char *in[] = {"plain", "\xFF\xFE", "caf\xC3\xA9", "\xC3", "a\"b\\c\n\x01\x7F",
                        "\xED\xA0\x80", "\xF0\x9F\x98\x80 ok", "\xE2\x82\xAC\xE2\x82"};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        CHECK(f != NULL);
        if (!f) return;
        cli_json_str(f, in[i]);
        fclose(f);
        CHECK_MSG(valid_utf8((const unsigned char *)buf, len), "invalid UTF-8 out for input %zu: %s", i, buf);
        int ctl = 0;
        for (size_t k = 0; k < len; k++) ctl |= (unsigned char)buf[k] < 0x20 || buf[k] == 0x7F;
        CHECK_MSG(!ctl, "raw control byte in JSON for input %zu", i);
        CHECK(len >= 2 && buf[0] == '"' && buf[len - 1] == '"');
        free(buf);
    }
    /* valid text passes through as is; each invalid byte becomes one \ufffd */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cli_json_str(f, "caf\xC3\xA9 \xFF!");
    fclose(f);
    CHECK_MSG(strcmp(buf, "\"caf\xC3\xA9 \\ufffd!\"") == 0, "%s", buf);
    free(buf);
}

int main(void) {
    test_config_strings();
    test_json_writer();
    return check_report("test_hostile_inputs");
}
