/* crashpoint.c -- see crashpoint.h. */
#include "lib/crashpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned long crash_at;       /* 0: never */
static int log_fd = -1;
static int enabled;                  /* a variable was set */
static int armed;
static unsigned long reached;

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
    reached++;
    if (log_fd >= 0) {
        char line[128];
        int n = snprintf(line, sizeof line, "%lu %s\n", reached, name);
        if (n > 0 && write(log_fd, line, (size_t) n) < 0) {
            /* Only a test reads the log; a failed write changes nothing else. */
        }
    }
    if (reached == crash_at) {
        raise(SIGKILL);
    }
}
