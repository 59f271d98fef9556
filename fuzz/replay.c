/*
 * Regression driver: replays files through a harness's LLVMFuzzerTestOneInput
 * without libFuzzer, so ctest runs every committed corpus (fuzz/corpus/<name>/)
 * with any compiler (gcc included) and under the sanitizer build. Arguments
 * are files or directories (their regular files, sorted by name). A harness
 * reports a bug by crashing (__builtin_trap or a sanitizer report), so a
 * normal exit means every input passed; the count printed says how many ran.
 */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb) free(buf);
            buf = nb;
        }
    }
    fclose(f);
    if (!buf) return -1;
    /* an exact-size copy, so ASan sees a read one past the input */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) return -1;
    memcpy(exact, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b) {
    return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv) {
    long count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            return 2;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (run_file(argv[i]) != 0) return 2;
            count++;
            continue;
        }
        struct dirent **ents;
        int n = scandir(argv[i], &ents, NULL, by_name);
        if (n < 0) {
            perror(argv[i]);
            return 2;
        }
        for (int k = 0; k < n; k++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], ents[k]->d_name);
            if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && ents[k]->d_name[0] != '.' &&
                strcmp(ents[k]->d_name, "README.md") != 0) {
                if (run_file(path) != 0) return 2;
                count++;
            }
            free(ents[k]);
        }
        free(ents);
    }
    printf("%s: %ld inputs replayed, no failure\n", argv[0], count);
    return count > 0 ? 0 : 2; /* an empty corpus is a mistake, not a pass */
}
