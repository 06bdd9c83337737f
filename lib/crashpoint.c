/* crashpoint.c -- see crashpoint.h. */
#include "lib/crashpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned long crash_at;       /* 0: never */
static int log_fd = -1;
static int enabled;                  /* a variable was set */
static atomic_int armed;        /* read by worker threads too */
/* Crashpoints are reached from the main loop and the adapters' worker threads at
 * once: a plain counter lost the kill when two threads stepped it together. */
static atomic_ulong reached;

static unsigned long
parse_count(const char *s)
{
    char *end;
    errno = 0;
    unsigned long n = s ? strtoul(s, &end, 10) : 0;
    return s && !errno && end != s && !*end ? n : 0;
}

void
crashpoint_init(void)
{
    crash_at = parse_count(getenv("VNETD_TEST_CRASH_AT"));
    const char *log = getenv("VNETD_TEST_CRASH_LOG");
    if (log && *log) {
        log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    }
    enabled = crash_at || log_fd >= 0;
}

void
crashpoint_arm(void)
{
    armed = enabled;
}

void
crashpoint(const char *name)
{
    if (!armed) {
        return;
    }
    unsigned long k = atomic_fetch_add(&reached, 1) + 1;
    if (log_fd >= 0) {
        char line[128];
        int n = snprintf(line, sizeof line, "%lu %s\n", k, name);
        if (n > 0 && write(log_fd, line, (size_t) n) < 0) {
            /* Only a test reads the log; a failed write changes nothing else. */
        }
    }
    if (k == crash_at) {
        raise(SIGKILL);
    }
}
