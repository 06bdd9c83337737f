/* sim-rng.h -- the simulator's own pseudo-random numbers: xoshiro256** seeded by
 * splitmix64 (Blackman and Vigna), so runs do not depend on the C library's rand()
 * (exponential variates still go through libm's log1p()).
 *
 * A 'struct sim_rng' is a value; derive independent streams with
 * sim_rng_init(seed, stream) so that, for example, adding a flow does not shift the
 * arrivals of the others. */
#ifndef SIM_RNG_H
#define SIM_RNG_H 1

#include <math.h>
#include <stdint.h>

struct sim_rng {
    uint64_t s[4];
};

static inline uint64_t
sim_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static inline void
sim_rng_init(struct sim_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * UINT64_C(0xd1342543de82ef95));
    for (int i = 0; i < 4; i++) {
        r->s[i] = sim_splitmix64(&x);
    }
}

static inline uint64_t
sim_rng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t
sim_rng_next(struct sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = sim_rng_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = sim_rng_rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static inline double
sim_rng_uniform(struct sim_rng *r)
{
    return (double) (sim_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Exponential with mean 'mean'. */
static inline double
sim_rng_exp(struct sim_rng *r, double mean)
{
    return -mean * log1p(-sim_rng_uniform(r));
}

#endif
