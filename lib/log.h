/* log.h -- per-module logging with run-time levels and per-call-site rate limits.
 *
 * Each source file that logs declares its module once:
 *     VNLOG_DEFINE_THIS_MODULE(control);
 * and then writes VNLOG_WARN("client '%s' sent garbage", name).  Levels are set at
 * run time per module (vnlog_set_levels("control:dbg,ANY:warn")), which is what the
 * daemon's 'log/set' method calls.  Messages go to stderr or to a log file.
 *
 * Rate limits belong to a call site, as in OVS:
 *     static struct vnlog_rl rl = VNLOG_RL_INIT(5, 20);   (5/minute, burst 20)
 *     VNLOG_WARN_RL(&rl, "...");
 * Suppressed messages are counted and reported with the next one that passes.
 *
 * Thread-safety: writes from several threads are serialised; level changes are
 * expected from the main thread only. */
#ifndef VNET_LOG_H
#define VNET_LOG_H 1

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

struct json_object;

enum vnlog_level { VNLOG_OFF, VNLOG_ERR, VNLOG_WARN, VNLOG_INFO, VNLOG_DBG };

struct vnlog_module {
    const char *name;
    enum vnlog_level level;
    struct vnlog_module *next;
};

struct vnlog_rl {
    unsigned int per_minute;   /* sustained rate */
    unsigned int burst;        /* messages allowed at once */
    double tokens;
    uint64_t last_ns;
    unsigned int suppressed;
    bool started;
};
#define VNLOG_RL_INIT(PER_MINUTE, BURST) { PER_MINUTE, BURST, 0, 0, 0, false }

void vnlog_register(struct vnlog_module *);

#define VNLOG_DEFINE_THIS_MODULE(NAME)                                        \
    static struct vnlog_module vnlog_this_module = { #NAME, VNLOG_INFO, 0 };  \
    static void __attribute__((constructor)) vnlog_register_##NAME(void)      \
    {                                                                         \
        vnlog_register(&vnlog_this_module);                                   \
    }

void vnlog_write(struct vnlog_module *, enum vnlog_level, const char *fmt, ...)
    VNET_PRINTF(3, 4);
void vnlog_write_rl(struct vnlog_module *, struct vnlog_rl *, enum vnlog_level,
                    const char *fmt, ...) VNET_PRINTF(4, 5);

static inline bool
vnlog_is_enabled(const struct vnlog_module *m, enum vnlog_level level)
{
    return level <= m->level;
}

#define VNLOG__(LEVEL, ...)                                                   \
    do {                                                                      \
        if (vnlog_is_enabled(&vnlog_this_module, LEVEL)) {                    \
            vnlog_write(&vnlog_this_module, LEVEL, __VA_ARGS__);              \
        }                                                                     \
    } while (0)
#define VNLOG_RL__(RL, LEVEL, ...)                                            \
    do {                                                                      \
        if (vnlog_is_enabled(&vnlog_this_module, LEVEL)) {                    \
            vnlog_write_rl(&vnlog_this_module, RL, LEVEL, __VA_ARGS__);       \
        }                                                                     \
    } while (0)

#define VNLOG_ERR(...)  VNLOG__(VNLOG_ERR, __VA_ARGS__)
#define VNLOG_WARN(...) VNLOG__(VNLOG_WARN, __VA_ARGS__)
#define VNLOG_INFO(...) VNLOG__(VNLOG_INFO, __VA_ARGS__)
#define VNLOG_DBG(...)  VNLOG__(VNLOG_DBG, __VA_ARGS__)
#define VNLOG_ERR_RL(RL, ...)  VNLOG_RL__(RL, VNLOG_ERR, __VA_ARGS__)
#define VNLOG_WARN_RL(RL, ...) VNLOG_RL__(RL, VNLOG_WARN, __VA_ARGS__)
#define VNLOG_INFO_RL(RL, ...) VNLOG_RL__(RL, VNLOG_INFO, __VA_ARGS__)
#define VNLOG_DBG_RL(RL, ...)  VNLOG_RL__(RL, VNLOG_DBG, __VA_ARGS__)

/* Applies a comma-separated list of "module:level", "ANY:level" or "level" items.
 * Returns NULL on success, or a malloc'd message naming the bad item (nothing is
 * changed then). */
char *vnlog_set_levels(const char *spec);

/* Returns the level called 'name' ("off", "err", "warn", "info", "dbg"), or -1. */
int vnlog_level_from_string(const char *name);
const char *vnlog_level_to_string(enum vnlog_level);

/* Sends output to 'path' (appending), or to stderr if 'path' is NULL.  Also used
 * to reopen after log rotation.  Returns 0 or -errno (output unchanged then). */
int vnlog_set_file(const char *path);

/* Returns {"module": "level", ...} for every registered module. */
struct json_object *vnlog_levels_to_json(void);

/* Test hook: when set, formatted lines go to this function instead of the file. */
typedef void vnlog_sink_func(const char *line, void *aux);
void vnlog_set_sink(vnlog_sink_func *, void *aux);

/* Test hook: the clock used by rate limits (NULL restores the monotonic clock). */
typedef uint64_t vnlog_clock_func(void);
void vnlog_set_clock(vnlog_clock_func *);

#endif
