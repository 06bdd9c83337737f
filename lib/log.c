#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct vnlog_module *modules;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = STDERR_FILENO;
static unsigned long long seqno;
static vnlog_sink_func *sink;
static void *sink_aux;
static vnlog_clock_func *clock_func;

static const char *const level_names[] = { "off", "err", "warn", "info", "dbg" };

void
vnlog_register(struct vnlog_module *m)
{
    pthread_mutex_lock(&mutex);
    m->next = modules;
    modules = m;
    pthread_mutex_unlock(&mutex);
}

int
vnlog_level_from_string(const char *name)
{
    for (size_t i = 0; i < VNET_ARRAY_SIZE(level_names); i++) {
        if (!strcasecmp(name, level_names[i])) {
            return (int) i;
        }
    }
    if (!strcasecmp(name, "debug")) {
        return VNLOG_DBG;
    }
    if (!strcasecmp(name, "warning")) {
        return VNLOG_WARN;
    }
    if (!strcasecmp(name, "error")) {
        return VNLOG_ERR;
    }
    return -1;
}

const char *
vnlog_level_to_string(enum vnlog_level level)
{
    return (unsigned) level < VNET_ARRAY_SIZE(level_names) ? level_names[level] : "?";
}

static struct vnlog_module *
find_module(const char *name)
{
    for (struct vnlog_module *m = modules; m; m = m->next) {
        if (!strcmp(m->name, name)) {
            return m;
        }
    }
    return NULL;
}

/* Parses 'spec' and, if 'apply', applies it. */
static char *
parse_levels(const char *spec, bool apply)
{
    char *copy = vnet_xstrdup(spec);
    char *save = NULL, *error = NULL;
    bool any = false;
    for (char *item = strtok_r(copy, ", ", &save); item;
         item = strtok_r(NULL, ", ", &save)) {
        any = true;
        char *colon = strchr(item, ':');
        const char *module = colon ? item : "ANY";
        const char *level_name = colon ? colon + 1 : item;
        if (colon) {
            *colon = '\0';
        }
        int level = vnlog_level_from_string(level_name);
        if (level < 0) {
            error = vnet_xasprintf("'%s': unknown log level (expected off, err, warn, "
                                   "info or dbg)", level_name);
            break;
        }
        if (!strcmp(module, "ANY")) {
            if (apply) {
                for (struct vnlog_module *m = modules; m; m = m->next) {
                    m->level = level;
                }
            }
        } else {
            struct vnlog_module *m = find_module(module);
            if (!m) {
                error = vnet_xasprintf("'%s': unknown log module", module);
                break;
            }
            if (apply) {
                m->level = level;
            }
        }
    }
    if (!any && !error) {
        error = vnet_xstrdup("empty log level specification");
    }
    free(copy);
    return error;
}

char *
vnlog_set_levels(const char *spec)
{
    char *error = parse_levels(spec, false);
    if (!error) {
        parse_levels(spec, true);
    }
    return error;
}

int
vnlog_set_file(const char *path)
{
    int fd = STDERR_FILENO;
    if (path) {
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (fd < 0) {
            return -errno;
        }
    }
    pthread_mutex_lock(&mutex);
    if (log_fd != STDERR_FILENO) {
        close(log_fd);
    }
    log_fd = fd;
    pthread_mutex_unlock(&mutex);
    return 0;
}

struct json_object *
vnlog_levels_to_json(void)
{
    struct json_object *obj = json_object_new_object();
    for (struct vnlog_module *m = modules; m; m = m->next) {
        json_object_object_add(obj, m->name,
                               json_object_new_string(vnlog_level_to_string(m->level)));
    }
    return obj;
}

void
vnlog_set_sink(vnlog_sink_func *func, void *aux)
{
    sink = func;
    sink_aux = aux;
}

void
vnlog_set_clock(vnlog_clock_func *func)
{
    clock_func = func;
}

/* Returns 'body' (freed) with control characters written as \xNN, so that a user
 * string quoted in a message cannot start a forged log line. */
static char *
escape_controls(char *body)
{
    size_t n = 0;
    for (const char *p = body; *p; p++) {
        n += (unsigned char) *p < 0x20 || *p == 0x7f;
    }
    if (!n) {
        return body;
    }
    char *out = vnet_xmalloc(strlen(body) + 3 * n + 1), *q = out;
    for (const char *p = body; *p; p++) {
        unsigned char c = (unsigned char) *p;
        if (c < 0x20 || c == 0x7f) {
            q += snprintf(q, 5, "\\x%02x", c);
        } else {
            *q++ = (char) c;
        }
    }
    *q = '\0';
    free(body);
    return out;
}

static void
emit(struct vnlog_module *m, enum vnlog_level level, const char *fmt, va_list args,
     unsigned int suppressed)
{
    char stamp[64];
    uint64_t now = vnet_wall_ns();
    time_t secs = (time_t) (now / 1000000000ull);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + n, sizeof stamp - n, ".%03uZ",
             (unsigned) (now / 1000000 % 1000));

    char *body = escape_controls(vnet_xvasprintf(fmt, args));
    pthread_mutex_lock(&mutex);
    char *line = (suppressed
                  ? vnet_xasprintf("%s|%05llu|%s|%s|%s (%u similar messages "
                                   "suppressed)\n", stamp, ++seqno, m->name,
                                   vnlog_level_to_string(level), body, suppressed)
                  : vnet_xasprintf("%s|%05llu|%s|%s|%s\n", stamp, ++seqno, m->name,
                                   vnlog_level_to_string(level), body));
    if (sink) {
        sink(line, sink_aux);
    } else {
        ssize_t r = write(log_fd, line, strlen(line));
        (void) r;
    }
    pthread_mutex_unlock(&mutex);
    free(line);
    free(body);
}

void
vnlog_write(struct vnlog_module *m, enum vnlog_level level, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    emit(m, level, fmt, args, 0);
    va_end(args);
}

void
vnlog_write_rl(struct vnlog_module *m, struct vnlog_rl *rl, enum vnlog_level level,
               const char *fmt, ...)
{
    uint64_t now = clock_func ? clock_func() : vnet_mono_ns();
    pthread_mutex_lock(&mutex);
    if (!rl->started) {
        rl->started = true;
        rl->tokens = rl->burst;
    } else {
        double refill = (double) (now - rl->last_ns) / 60e9 * rl->per_minute;
        rl->tokens = VNET_MIN(rl->tokens + refill, (double) rl->burst);
    }
    rl->last_ns = now;
    bool pass = rl->tokens >= 1.0;
    unsigned int suppressed = 0;
    if (pass) {
        rl->tokens -= 1.0;
        suppressed = rl->suppressed;
        rl->suppressed = 0;
    } else {
        rl->suppressed++;
    }
    pthread_mutex_unlock(&mutex);

    if (pass) {
        va_list args;
        va_start(args, fmt);
        emit(m, level, fmt, args, suppressed);
        va_end(args);
    }
}
