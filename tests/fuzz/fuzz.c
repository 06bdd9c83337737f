#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/util.h"

static char *tmpdir;

char *
fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = vnet_xmalloc(size + 1);
    if (size) {
        memcpy(s, data, size);
    }
    s[size] = '\0';
    return s;
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    remove(path);
    return 0;
}

static void
remove_tmpdir(void)
{
    if (tmpdir) {
        nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(tmpdir);
        tmpdir = NULL;
    }
}

const char *
fuzz_tmpdir(void)
{
    if (tmpdir) {
        return tmpdir;
    }
    const char *base = getenv("TMPDIR");
    if (!base || !*base) {
        base = access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm";
    }
    tmpdir = vnet_xasprintf("%s/vnet-fuzz.XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "fuzz: mkdtemp %s: %s\n", tmpdir, strerror(errno));
        abort();
    }
    atexit(remove_tmpdir);
    return tmpdir;
}

void
fuzz_write_file(const char *path, const void *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || vnet_write_all(fd, data, size) || close(fd)) {
        fprintf(stderr, "fuzz: cannot write %s: %s\n", path, strerror(errno));
        abort();
    }
}

void
fuzz_check__(int ok, const char *what, const char *file, int line)
{
    if (!ok) {
        fprintf(stderr, "%s:%d: property violated: %s\n", file, line, what);
        abort();
    }
}
