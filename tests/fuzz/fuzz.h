/* fuzz.h -- what every fuzz target in tests/fuzz/ shares.
 *
 * A target is one fuzz-<name>.c defining LLVMFuzzerTestOneInput() (and, if it needs
 * set-up, LLVMFuzzerInitialize()).  It is linked twice: with libFuzzer (clang,
 * -DVNET_FUZZ=ON) to fuzz, and with replay-main.c (any compiler, ASan+UBSan) to run
 * the seed corpus and the kept regression inputs as a unit test.  Either way the
 * input is exactly 'size' bytes, not NUL-terminated: a parser that reads past it is
 * caught by ASan.
 *
 * A target aborts (fuzz_check()) when a documented property of the code under test
 * fails, so the fuzzer reports it like a crash.  Inputs must not leak: leak
 * detection is on. */
#ifndef VNET_TESTS_FUZZ_H
#define VNET_TESTS_FUZZ_H 1

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Returns a NUL-terminated copy of the input (caller frees); an embedded NUL ends
 * the string early, as it would for a C-string API fed from a file. */
char *fuzz_strndup(const uint8_t *data, size_t size);

/* Returns a private directory for the target's files, created on first use under
 * $TMPDIR (else /dev/shm, else /tmp) and removed at exit. */
const char *fuzz_tmpdir(void);

/* Replaces the file 'path' by 'size' bytes of 'data'; aborts on I/O errors. */
void fuzz_write_file(const char *path, const void *data, size_t size);

/* Aborts with 'what' if 'ok' is false. */
#define fuzz_check(ok, what) fuzz_check__(ok, what, __FILE__, __LINE__)
void fuzz_check__(int ok, const char *what, const char *file, int line);

#endif
