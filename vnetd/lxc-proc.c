/* lxc-proc.c -- what /proc tells about libvirt's LXC containers. */
#include "vnetd/lxc-proc.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

ssize_t
lxc_proc_read(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return n;
}

bool
lxc_proc_is_controller(const char *procfs, unsigned int pid, const char *domain)
{
    char path[256], buf[4096];
    if (!pid || pid == (unsigned int) -1) {
        return false;
    }
    snprintf(path, sizeof path, "%s/%u/cmdline", procfs, pid);
    ssize_t n = lxc_proc_read(path, buf, sizeof buf);
    if (n <= 0) {
        return false;
    }
    const char *exe = strrchr(buf, '/');
    if (strcmp(exe ? exe + 1 : buf, "libvirt_lxc")) {
        return false;
    }
    /* The arguments are NUL-separated; a command line cut at 'size' ends early. */
    for (ssize_t i = 0, next; i < n; i = next) {
        next = i + (ssize_t) strlen(buf + i) + 1;
        if (!strcmp(buf + i, "--name") && next < n && !strcmp(buf + next, domain)) {
            return true;
        }
    }
    return false;
}
