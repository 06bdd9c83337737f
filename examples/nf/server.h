/* server.h -- the NF's service process: peak-rate pacing and run-time fault knobs.
 *
 * The NF is modelled as a single FIFO server that starts serving a packet every
 * 1/peak seconds at most (peak 0 = as fast as the host allows).  Pacing is a token
 * bucket kept as a virtual "server free" time 't_free' in nanoseconds: a packet may
 * start when t_free + cost <= now, and then t_free += cost.  Idle time banks at most
 * B packets of service, B = clamp(2 ms / cost, 2, 64): a wake-up that comes late
 * (timer slack, a core shared with other processes) by less than (B - 1) * cost
 * loses no capacity, and an idle NF releases at most B packets back to back (a
 * token bucket of depth B).
 *
 * Fault knobs, as the control socket sets them:
 *   pause  -- no packet starts service until the pause ends (an interrupt / stall);
 *             arrivals keep queueing and are tail-dropped when the queue is full;
 *   slow   -- the cost of a packet is multiplied by 'factor' until the slow-down ends
 *             (needs a finite peak rate);
 *   drop   -- each served packet is dropped with probability 'ratio' (it still uses
 *             its service time, as a packet an NF processes and then loses would).
 *
 * Time is always passed in ('now', CLOCK_MONOTONIC nanoseconds), so tests drive it.
 * Thread-safety: one thread per server. */
#ifndef VNET_EXAMPLES_SERVER_H
#define VNET_EXAMPLES_SERVER_H 1

#include <stdbool.h>
#include <stdint.h>

struct nf_server {
    uint64_t peak_pps;              /* 0 = unlimited */
    double cost_ns;                 /* 1e9 / peak_pps, 0 if unlimited */
    double t_free;                  /* virtual time the server is next free */
    uint64_t pause_until;
    uint64_t slow_until;
    double slow_factor;
    double drop_ratio;
    uint64_t rng;
};

/* Initialises 's' with 'peak_pps' (0 = unlimited) and a random 'seed'. */
void nf_server_init(struct nf_server *s, uint64_t peak_pps, uint64_t seed);

void nf_server_set_peak(struct nf_server *s, uint64_t peak_pps);

/* Stops service until now + usec (or later if a longer pause is already on). */
void nf_server_pause(struct nf_server *s, uint64_t now, uint64_t usec);

/* Serves at peak / factor until now + msec.  Returns 0, or -EINVAL if the peak rate
 * is unlimited (nothing to divide) or factor < 1. */
int nf_server_slow(struct nf_server *s, uint64_t now, double factor, uint64_t msec);

/* Sets the fault drop probability (0..1). */
void nf_server_set_drop(struct nf_server *s, double ratio);

/* Returns how many of the 'want' packets at the head of the queue may start service
 * at 'now' (0..want) and charges their service time.  If fewer than 'want', stores in
 * '*ret_next' the earliest time at which the next one may start. */
unsigned int nf_server_grant(struct nf_server *s, uint64_t now, unsigned int want,
                             uint64_t *ret_next);

/* Draws whether the packet being served is lost to the 'drop' fault. */
bool nf_server_fault_drop(struct nf_server *s);

/* The cost factor in effect at 'now' (1 unless slowed). */
double nf_server_factor(const struct nf_server *s, uint64_t now);

#endif
