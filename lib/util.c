#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static void __attribute__((noreturn))
out_of_memory(void)
{
    static const char msg[] = "vnet: virtual memory exhausted\n";
    ssize_t r = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void) r;
    abort();
}

void *
vnet_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p) {
        out_of_memory();
    }
    return p;
}

void *
vnet_xzalloc(size_t size)
{
    return vnet_xcalloc(1, size);
}

void *
vnet_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        out_of_memory();
    }
    return p;
}

void *
vnet_xrealloc(void *p, size_t size)
{
    p = realloc(p, size ? size : 1);
    if (!p) {
        out_of_memory();
    }
    return p;
}

void *
vnet_xmemdup(const void *p, size_t size)
{
    void *q = vnet_xmalloc(size);
    if (size) {
        memcpy(q, p, size);
    }
    return q;
}

char *
vnet_xstrdup(const char *s)
{
    return vnet_xmemdup(s, strlen(s) + 1);
}

char *
vnet_xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *q = vnet_xmalloc(len + 1);
    memcpy(q, s, len);
    q[len] = '\0';
    return q;
}

char *
vnet_xvasprintf(const char *fmt, va_list args)
{
    va_list copy;
    va_copy(copy, args);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0) {
        abort();
    }
    char *s = vnet_xmalloc((size_t) n + 1);
    vsnprintf(s, (size_t) n + 1, fmt, args);
    return s;
}

char *
vnet_xasprintf(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    char *s = vnet_xvasprintf(fmt, args);
    va_end(args);
    return s;
}

static void
buf_reserve(struct vnet_buf *b, size_t more)
{
    if (b->len + more + 1 > b->cap) {
        b->cap = VNET_MAX(2 * b->cap, b->len + more + 1);
        b->cap = VNET_MAX(b->cap, (size_t) 256);
        b->s = vnet_xrealloc(b->s, b->cap);
    }
}

void
vnet_buf_printf(struct vnet_buf *b, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    char *piece = vnet_xvasprintf(fmt, args);
    va_end(args);
    vnet_buf_puts(b, piece);
    free(piece);
}

void
vnet_buf_puts(struct vnet_buf *b, const char *str)
{
    size_t n = strlen(str);
    buf_reserve(b, n);
    memcpy(b->s + b->len, str, n + 1);
    b->len += n;
}

char *
vnet_buf_steal(struct vnet_buf *b)
{
    buf_reserve(b, 0);
    b->s[b->len] = '\0';
    char *s = b->s;
    *b = (struct vnet_buf) VNET_BUF_INITIALIZER;
    return s;
}

void
vnet_grow(void **array, size_t *allocated, size_t n, size_t elem_size)
{
    if (n <= *allocated) {
        return;
    }
    size_t cap = *allocated ? *allocated : 8;
    while (cap < n) {
        if (cap > SIZE_MAX / 2 / elem_size) {
            out_of_memory();
        }
        cap *= 2;
    }
    *array = vnet_xrealloc(*array, cap * elem_size);
    *allocated = cap;
}

static uint64_t
clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

uint64_t
vnet_mono_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

uint64_t
vnet_wall_ns(void)
{
    return clock_ns(CLOCK_REALTIME);
}

int
vnet_parse_uint(const char *s, unsigned long long min, unsigned long long max,
                unsigned long long *ret_value)
{
    if (!s || !*s || *s < '0' || *s > '9') {
        return -EINVAL;
    }
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end) {
        return -EINVAL;
    }
    if (errno == ERANGE || v < min || v > max) {
        return -ERANGE;
    }
    *ret_value = v;
    return 0;
}

int
vnet_parse_duration(const char *s, uint64_t *ret_ns)
{
    static const struct { const char *suffix; uint64_t ns; } units[] = {
        { "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000ull },
        { "m", 60000000000ull }, { "", 1000000000ull },
    };
    if (!s || *s < '0' || *s > '9') {
        return -EINVAL;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || v < 0) {
        return -EINVAL;
    }
    for (size_t i = 0; i < VNET_ARRAY_SIZE(units); i++) {
        if (!strcmp(end, units[i].suffix)) {
            double ns = v * (double) units[i].ns;
            if (ns > 1e18) {
                return -EINVAL;
            }
            *ret_ns = (uint64_t) ns;
            return 0;
        }
    }
    return -EINVAL;
}

int
vnet_set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        return -errno;
    }
    flags = fcntl(fd, F_GETFD);
    if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) {
        return -errno;
    }
    return 0;
}

int
vnet_write_all(int fd, const void *buf_, size_t len)
{
    const char *buf = buf_;
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        buf += n;
        len -= (size_t) n;
    }
    return 0;
}

int
vnet_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int error = -errno;
        close(fd);
        return error;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return -EISDIR;
    }
    size_t cap = 4096, len = 0;
    char *data = vnet_xmalloc(cap);
    for (;;) {
        if (len + 1 >= cap) {
            cap *= 2;
            data = vnet_xrealloc(data, cap);
        }
        ssize_t n = read(fd, data + len, cap - len - 1);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            int error = -errno;
            free(data);
            close(fd);
            return error;
        }
        if (n == 0) {
            break;
        }
        len += (size_t) n;
        if (len > max) {
            free(data);
            close(fd);
            return -EFBIG;
        }
    }
    close(fd);
    data[len] = '\0';
    *ret_data = data;
    if (ret_len) {
        *ret_len = len;
    }
    return 0;
}

const char *
vnet_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

bool
vnet_strlcpy(char *dst, const char *src, size_t size)
{
    size_t len = strlen(src);
    if (!size) {
        return false;
    }
    size_t n = len < size ? len : size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return n == len;
}

bool
vnet_unix_socket_live(const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    if (!vnet_strlcpy(sun.sun_path, path, sizeof sun.sun_path)) {
        return false;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    bool live = connect(fd, (struct sockaddr *) &sun, sizeof sun) == 0;
    close(fd);
    return live;
}
