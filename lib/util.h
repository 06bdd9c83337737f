/* util.h -- allocation that cannot fail, small helpers shared by every component.
 *
 * Out-of-memory is not a recoverable condition for vnet: the vnet_x*() allocators
 * abort with a message instead of returning NULL (the convention of OVS and libvirt).
 * The names carry a 'vnet_' prefix because vnetd also links libopenvswitch, which
 * exports its own xmalloc(). */
#ifndef VNET_UTIL_H
#define VNET_UTIL_H 1

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VNET_ARRAY_SIZE(a) (sizeof (a) / sizeof (a)[0])
#define VNET_MIN(a, b) ((a) < (b) ? (a) : (b))
#define VNET_MAX(a, b) ((a) > (b) ? (a) : (b))
#define VNET_PRINTF(f, a) __attribute__((format(printf, f, a)))

void *vnet_xmalloc(size_t size);
void *vnet_xzalloc(size_t size);
void *vnet_xcalloc(size_t n, size_t size);
void *vnet_xrealloc(void *p, size_t size);
void *vnet_xmemdup(const void *p, size_t size);
char *vnet_xstrdup(const char *s);
char *vnet_xstrndup(const char *s, size_t n);
char *vnet_xasprintf(const char *fmt, ...) VNET_PRINTF(1, 2);
char *vnet_xvasprintf(const char *fmt, va_list args) VNET_PRINTF(1, 0);

/* A growing string: 'struct vnet_buf b = VNET_BUF_INITIALIZER;', append with
 * vnet_buf_printf() / vnet_buf_puts(), take the result with vnet_buf_steal()
 * (never NULL; the caller frees it). */
struct vnet_buf {
    char *s;
    size_t len, cap;
};
#define VNET_BUF_INITIALIZER { NULL, 0, 0 }
void vnet_buf_printf(struct vnet_buf *, const char *fmt, ...) VNET_PRINTF(2, 3);
void vnet_buf_puts(struct vnet_buf *, const char *);
char *vnet_buf_steal(struct vnet_buf *);

/* Grows '*array' (of '*allocated' elements of 'elem_size') so that it can hold at
 * least 'n' elements; doubles as it grows. */
void vnet_grow(void **array, size_t *allocated, size_t n, size_t elem_size);

/* Monotonic and wall-clock time in nanoseconds. */
uint64_t vnet_mono_ns(void);
uint64_t vnet_wall_ns(void);

/* Parses a non-negative decimal integer in [min, max] that spans all of 's'.
 * Returns 0 and stores it in '*ret_value', or -EINVAL / -ERANGE. */
int vnet_parse_uint(const char *s, unsigned long long min, unsigned long long max,
                    unsigned long long *ret_value);

/* Parses a duration such as "250ms", "5s", "2m", "1500us" or a bare number of
 * seconds.  Returns 0 and stores nanoseconds in '*ret_ns', or -EINVAL. */
int vnet_parse_duration(const char *s, uint64_t *ret_ns);

/* Sets FD_CLOEXEC / O_NONBLOCK on 'fd'. Returns 0 or -errno. */
int vnet_set_nonblocking(int fd);

/* Writes all of 'buf' to 'fd', retrying on EINTR and short writes (blocking fds).
 * Returns 0 or -errno. */
int vnet_write_all(int fd, const void *buf, size_t len);

/* Reads the whole file 'path' (at most 'max' bytes) into a NUL-terminated buffer.
 * Returns 0 and '*ret_data' (caller frees) / '*ret_len', or -errno (-EFBIG if the
 * file is larger than 'max'). */
int vnet_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len);

/* Returns the last component of 'path' without copying. */
const char *vnet_basename(const char *path);

/* Safe string copy into a fixed buffer; always NUL-terminates; returns true if the
 * whole of 'src' fit. */
bool vnet_strlcpy(char *dst, const char *src, size_t size);

/* True if a process accepts connections on the unix stream socket 'path'. */
bool vnet_unix_socket_live(const char *path);

#endif
