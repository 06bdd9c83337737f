/* gen-plan.h -- what vnet-gen sends when: flows, their weights, arrival processes.
 *
 * Flows.  N flows share the base rate.  Flow i gets weight w_i drawn from a Pareto
 * distribution (shape alpha, default 1.2: heavy-tailed, a few elephants and many
 * mice) and each base-rate packet belongs to flow i with probability w_i / sum(w).
 * gen_flows_pick() maps a uniform draw to a flow with a binary search over the
 * cumulative weights.
 *
 * Sources.  A 'struct gen_source' emits packets at a constant rate, either paced
 * (exactly every 1/rate) or Poisson (exponential gaps of mean 1/rate), inside an
 * optional window [start, end).  vnet-gen merges several sources: the base flows, each
 * --burst, the RTP stream.
 *
 * Option syntax parsed here:
 *   burst  "flow=I,rate=PPS,duration=USEC,at=MSEC" (all four keys, any order)
 *   range  "N" or "LO-HI" (ports)
 *
 * Randomness: xorshift64* seeded by the caller, so a run can be repeated.  Pure;
 * thread-safe as long as each thread has its own generator. */
#ifndef VNET_EXAMPLES_GEN_PLAN_H
#define VNET_EXAMPLES_GEN_PLAN_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vnet_error;

struct gen_rng {
    uint64_t s;
};

void gen_rng_seed(struct gen_rng *, uint64_t seed);
uint64_t gen_rng_next(struct gen_rng *);
/* Uniform in (0, 1]. */
double gen_rng_uniform(struct gen_rng *);
/* Pareto with shape 'alpha' > 0 and scale 'xm' > 0. */
double gen_rng_pareto(struct gen_rng *, double alpha, double xm);
/* Exponential with mean 'mean'. */
double gen_rng_exponential(struct gen_rng *, double mean);

struct gen_flows {
    size_t n;
    double *cum;                    /* cumulative weights, cum[n-1] = total */
};

/* Draws 'n' (>= 1) Pareto(alpha) weights. */
void gen_flows_init(struct gen_flows *, size_t n, double alpha, struct gen_rng *);
void gen_flows_destroy(struct gen_flows *);
/* Returns the flow for the uniform draw 'u' in (0, 1]. */
size_t gen_flows_pick(const struct gen_flows *, double u);
/* Returns flow i's share of the base rate. */
double gen_flows_share(const struct gen_flows *, size_t i);

struct gen_source {
    double interval_ns;             /* mean gap */
    bool poisson;
    uint64_t start_ns, end_ns;      /* active window; end 0 = open */
    double next_ns;                 /* next emission time */
};

/* A source of 'rate_pps' (> 0) active in [start_ns, end_ns) (end 0 = forever). */
void gen_source_init(struct gen_source *, uint64_t rate_pps, bool poisson,
                     uint64_t start_ns, uint64_t end_ns, struct gen_rng *);
/* The next emission time, or UINT64_MAX if the source has ended. */
uint64_t gen_source_next(const struct gen_source *);
/* Moves past the current emission. */
void gen_source_advance(struct gen_source *, struct gen_rng *);

struct gen_burst {
    uint32_t flow;
    uint64_t rate_pps;
    uint64_t duration_ns;
    uint64_t at_ns;
};

struct vnet_error *gen_burst_parse(const char *text, struct gen_burst *);

struct gen_range {
    uint16_t lo, hi;
};

/* Parses "N" or "LO-HI" (0..65535, LO <= HI).  Returns 0 or -EINVAL. */
int gen_range_parse(const char *text, struct gen_range *);

#endif
