/* server.c -- peak-rate pacing and fault knobs. */
#include "examples/nf/server.h"

#include <errno.h>
#include <math.h>

#include "lib/util.h"

#define BANK_NS 2000000.0           /* idle service banked (2 ms)... */
#define BANK_MIN 2.0                /* ...but at least 2 packets */
#define BANK_MAX 64.0               /* ...and at most 64 */

void
nf_server_init(struct nf_server *s, uint64_t peak_pps, uint64_t seed)
{
    *s = (struct nf_server) { .slow_factor = 1.0, .rng = seed | 1 };
    nf_server_set_peak(s, peak_pps);
}

void
nf_server_set_peak(struct nf_server *s, uint64_t peak_pps)
{
    s->peak_pps = peak_pps;
    s->cost_ns = peak_pps ? 1e9 / (double) peak_pps : 0.0;
}

void
nf_server_pause(struct nf_server *s, uint64_t now, uint64_t usec)
{
    uint64_t until = now + usec * 1000;
    if (until > s->pause_until) {
        s->pause_until = until;
    }
}

int
nf_server_slow(struct nf_server *s, uint64_t now, double factor, uint64_t msec)
{
    if (!s->peak_pps || !(factor >= 1.0)) {
        return -EINVAL;
    }
    s->slow_factor = factor;
    s->slow_until = now + msec * 1000000;
    return 0;
}

void
nf_server_set_drop(struct nf_server *s, double ratio)
{
    s->drop_ratio = ratio;
}

double
nf_server_factor(const struct nf_server *s, uint64_t now)
{
    return now < s->slow_until ? s->slow_factor : 1.0;
}

unsigned int
nf_server_grant(struct nf_server *s, uint64_t now, unsigned int want, uint64_t *ret_next)
{
    if (now < s->pause_until) {
        *ret_next = s->pause_until;
        return 0;
    }
    if (!s->cost_ns) {
        return want;
    }
    double cost = s->cost_ns * nf_server_factor(s, now);
    double bank = cost * VNET_MAX(BANK_MIN, VNET_MIN(BANK_MAX, BANK_NS / cost));
    double t = (double) now;
    if (s->t_free < t - bank) {
        s->t_free = t - bank;
    }
    unsigned int n = 0;
    while (n < want && s->t_free + cost <= t) {
        s->t_free += cost;
        n++;
    }
    if (n < want) {
        *ret_next = (uint64_t) ceil(s->t_free + cost);
    }
    return n;
}

bool
nf_server_fault_drop(struct nf_server *s)
{
    if (s->drop_ratio <= 0) {
        return false;
    }
    /* xorshift64*: fast, and good enough for a Bernoulli draw. */
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    uint64_t r = s->rng * 0x2545f4914f6cdd1dull;
    return (double) (r >> 11) * 0x1.0p-53 < s->drop_ratio;
}
