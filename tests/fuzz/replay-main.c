/* replay-main.c -- runs a fuzz target over saved inputs, without libFuzzer.
 *
 * usage: fuzz-replay-<name> FILE|DIR...
 *
 * Every regular file named (directories: every regular file in them, in name
 * order, except README*) is read into a buffer of exactly its size and passed to
 * LLVMFuzzerTestOneInput() once.  Linked with a target under ASan+UBSan by every
 * build, this is how the seed corpora and the regression inputs of tests/fuzz/ run
 * as unit tests where clang's libFuzzer is not available.  A crash, a sanitizer
 * report or a leak fails the run; the file being replayed is printed first. */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/util.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int
replay_file(const char *path)
{
    char *data;
    size_t len;
    int err = vnet_read_file(path, 64 * 1024 * 1024, &data, &len);
    if (err) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(-err));
        return -1;
    }
    /* Exactly 'len' bytes, as libFuzzer passes them: reading past the input is
     * an overflow, not a read of vnet_read_file()'s terminating NUL. */
    uint8_t *input = vnet_xmalloc(len);
    memcpy(input, data, len);
    free(data);
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
    LLVMFuzzerTestOneInput(input, len);
    free(input);
    return 0;
}

static int
skip_entry(const struct dirent *e)
{
    return e->d_name[0] != '.' && strncmp(e->d_name, "README", 6);
}

/* Replays 'path'; returns the number of inputs, or -1 on error. */
static int
replay_path(const char *path)
{
    struct stat st;
    if (stat(path, &st)) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        return replay_file(path) ? -1 : 1;
    }
    struct dirent **names;
    int n = scandir(path, &names, skip_entry, alphasort);
    if (n < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int count = 0;
    for (int i = 0; i < n; i++) {
        char *file = vnet_xasprintf("%s/%s", path, names[i]->d_name);
        if (!stat(file, &st) && S_ISREG(st.st_mode)) {
            if (replay_file(file)) {
                count = -1;
            } else if (count >= 0) {
                count++;
            }
        }
        free(file);
        free(names[i]);
    }
    free(names);
    return count;
}

int
main(int argc, char *argv[])
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return EXIT_FAILURE;
    }
    if (LLVMFuzzerInitialize) {
        LLVMFuzzerInitialize(&argc, &argv);
    }
    int total = 0;
    bool failed = false;
    for (int i = 1; i < argc; i++) {
        int n = replay_path(argv[i]);
        if (n < 0) {
            failed = true;
        } else {
            total += n;
        }
    }
    printf("replayed %d inputs%s\n", total, failed ? " (some could not be read)" : "");
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
