/* timelog.c -- the --log-times file writer. */
#include "examples/nf/timelog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/error.h"
#include "lib/util.h"

struct nf_timelog {
    FILE *file;
    char *buf;
    int error;                      /* first write error, -errno */
};

struct vnet_error *
nf_timelog_open(const char *path, struct nf_timelog **ret_log)
{
    FILE *file = fopen(path, "wbe");
    if (!file) {
        return vnet_error_from_errno(-errno, "--log-times '%s'", path);
    }
    struct nf_timelog *log = vnet_xzalloc(sizeof *log);
    log->file = file;
    log->buf = vnet_xmalloc(1 << 20);
    setvbuf(file, log->buf, _IOFBF, 1 << 20);

    uint8_t header[16] = { 0 };
    uint32_t size = sizeof(struct nf_timelog_record);
    memcpy(header, NF_TIMELOG_MAGIC, 8);
    memcpy(header + 8, &size, 4);
    if (fwrite(header, sizeof header, 1, file) != 1) {
        log->error = -EIO;
    }
    *ret_log = log;
    return NULL;
}

void
nf_timelog_write(struct nf_timelog *log, const struct nf_timelog_record *rec)
{
    if (fwrite(rec, sizeof *rec, 1, log->file) != 1 && !log->error) {
        log->error = errno ? -errno : -EIO;
    }
}

int
nf_timelog_close(struct nf_timelog *log)
{
    if (!log) {
        return 0;
    }
    int error = log->error;
    if (fclose(log->file) && !error) {
        error = -errno;
    }
    free(log->buf);
    free(log);
    return error;
}
