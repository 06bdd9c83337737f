#include "atomic-file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

int
vnet_fsync_parent(const char *path)
{
    char *dir = vnet_xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (!slash) {
        free(dir);
        dir = vnet_xstrdup(".");
    } else if (slash == dir) {
        slash[1] = '\0';
    } else {
        *slash = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0) {
        return -errno;
    }
    int error = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return error;
}

int
vnet_atomic_write(const char *path, const void *data, size_t len, mode_t mode)
{
    char *tmp = vnet_xasprintf("%s.tmp", path);
    int error = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        error = -errno;
        goto out;
    }
    error = vnet_write_all(fd, data, len);
    if (!error && fsync(fd) < 0) {
        error = -errno;
    }
    if (close(fd) < 0 && !error) {
        error = -errno;
    }
    if (!error && rename(tmp, path) < 0) {
        error = -errno;
    }
    if (error) {
        unlink(tmp);
        goto out;
    }
    error = vnet_fsync_parent(path);
out:
    free(tmp);
    return error;
}

int
vnet_remove_flat_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        return -errno;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            char *file = vnet_xasprintf("%s/%s", path, de->d_name);
            unlink(file);
            free(file);
        }
    }
    closedir(d);
    return rmdir(path) < 0 ? -errno : 0;
}

int
vnet_mkdir_p(const char *path, mode_t mode)
{
    char *copy = vnet_xstrdup(path);
    int error = 0;
    for (char *p = copy + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(copy, mode) < 0 && errno != EEXIST) {
                error = -errno;
                break;
            }
            *p = saved;
            if (!saved) {
                break;
            }
        }
    }
    free(copy);
    return error;
}
