/* gen-plan.c -- flow weights, arrival processes and option parsing for vnet-gen. */
#include "examples/traffic/gen-plan.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/error.h"
#include "lib/util.h"

void
gen_rng_seed(struct gen_rng *r, uint64_t seed)
{
    /* splitmix64 spreads small seeds over the state. */
    uint64_t z = seed + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    r->s = (z ^ (z >> 31)) | 1;
}

uint64_t
gen_rng_next(struct gen_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545f4914f6cdd1dull;
}

double
gen_rng_uniform(struct gen_rng *r)
{
    return (double) ((gen_rng_next(r) >> 11) + 1) * 0x1.0p-53;
}

double
gen_rng_pareto(struct gen_rng *r, double alpha, double xm)
{
    return xm / pow(gen_rng_uniform(r), 1.0 / alpha);
}

double
gen_rng_exponential(struct gen_rng *r, double mean)
{
    return -mean * log(gen_rng_uniform(r));
}

void
gen_flows_init(struct gen_flows *f, size_t n, double alpha, struct gen_rng *r)
{
    f->n = n;
    f->cum = vnet_xcalloc(n, sizeof *f->cum);
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        total += n == 1 ? 1.0 : gen_rng_pareto(r, alpha, 1.0);
        f->cum[i] = total;
    }
}

void
gen_flows_destroy(struct gen_flows *f)
{
    free(f->cum);
    f->cum = NULL;
}

size_t
gen_flows_pick(const struct gen_flows *f, double u)
{
    double x = u * f->cum[f->n - 1];
    size_t lo = 0, hi = f->n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->cum[mid] < x) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

double
gen_flows_share(const struct gen_flows *f, size_t i)
{
    double w = f->cum[i] - (i ? f->cum[i - 1] : 0);
    return w / f->cum[f->n - 1];
}

void
gen_source_init(struct gen_source *s, uint64_t rate_pps, bool poisson, uint64_t start_ns,
                uint64_t end_ns, struct gen_rng *r)
{
    s->interval_ns = 1e9 / (double) rate_pps;
    s->poisson = poisson;
    s->start_ns = start_ns;
    s->end_ns = end_ns;
    s->next_ns = (double) start_ns
                 + (poisson ? gen_rng_exponential(r, s->interval_ns) : 0.0);
}

uint64_t
gen_source_next(const struct gen_source *s)
{
    if (s->end_ns && s->next_ns >= (double) s->end_ns) {
        return UINT64_MAX;
    }
    return (uint64_t) s->next_ns;
}

void
gen_source_advance(struct gen_source *s, struct gen_rng *r)
{
    s->next_ns += s->poisson ? gen_rng_exponential(r, s->interval_ns) : s->interval_ns;
}

struct vnet_error *
gen_burst_parse(const char *text, struct gen_burst *ret)
{
    static const struct {
        const char *key;
        unsigned long long max;
        const char *what;
    } keys[] = {
        { "flow", UINT32_MAX, "a flow index" },
        { "rate", 100000000, "packets per second, 1..100000000" },
        { "duration", 3600000000ull, "microseconds, 1..3600000000" },
        { "at", 86400000, "milliseconds after the start, 0..86400000" },
    };
    unsigned long long v[4];
    bool seen[4] = { false, false, false, false };
    char *copy = vnet_xstrdup(text);
    struct vnet_error *error = NULL;
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        size_t k = VNET_ARRAY_SIZE(keys);
        if (eq) {
            *eq = '\0';
            for (k = 0; k < VNET_ARRAY_SIZE(keys); k++) {
                if (!strcmp(item, keys[k].key)) {
                    break;
                }
            }
        }
        if (k == VNET_ARRAY_SIZE(keys)) {
            error = vnet_error_create(VNET_ERR_INVALID, "unknown item '%s': expected "
                                      "flow=I,rate=PPS,duration=USEC,at=MSEC", item);
            goto out;
        }
        unsigned long long min = k == 0 || k == 3 ? 0 : 1;
        if (seen[k] || vnet_parse_uint(eq + 1, min, keys[k].max, &v[k])) {
            error = vnet_error_create(VNET_ERR_INVALID, "%s: expected %s%s, got '%s'",
                                      keys[k].key, keys[k].what,
                                      seen[k] ? " (once)" : "", eq + 1);
            goto out;
        }
        seen[k] = true;
    }
    for (size_t k = 0; k < VNET_ARRAY_SIZE(keys); k++) {
        if (!seen[k]) {
            error = vnet_error_create(VNET_ERR_INVALID, "missing %s=: expected "
                                      "flow=I,rate=PPS,duration=USEC,at=MSEC", keys[k].key);
            goto out;
        }
    }
    *ret = (struct gen_burst) {
        .flow = (uint32_t) v[0],
        .rate_pps = v[1],
        .duration_ns = v[2] * 1000,
        .at_ns = v[3] * 1000000,
    };

out:
    free(copy);
    return vnet_error_wrap(error, "burst '%s'", text);
}

int
gen_range_parse(const char *text, struct gen_range *ret)
{
    char buf[16];
    unsigned long long lo, hi;
    if (!vnet_strlcpy(buf, text, sizeof buf)) {
        return -EINVAL;
    }
    char *dash = strchr(buf, '-');
    if (dash) {
        *dash = '\0';
        if (vnet_parse_uint(buf, 0, 65535, &lo) || vnet_parse_uint(dash + 1, 0, 65535, &hi)
            || lo > hi) {
            return -EINVAL;
        }
    } else {
        if (vnet_parse_uint(buf, 0, 65535, &lo)) {
            return -EINVAL;
        }
        hi = lo;
    }
    ret->lo = (uint16_t) lo;
    ret->hi = (uint16_t) hi;
    return 0;
}
