/* sim-scenario.h -- the reference topologies of spec F.1 and scenarios S1-S9 of
 * F.2 as simulator configs.
 *
 * Topologies (peak rates in Mpps, queue capacity 1024 packets):
 *   chain   GEN -> fw (2.0) -> nat (1.5, SNAT) -> vpn (1.0) -> SINK
 *   dag     flow A -> vpn directly; GEN -> nat -> vpn; GEN -> mon (1.5) -> vpn,
 *           mon carrying twice nat's rate (0.1 + 0.167 + 0.333 Mpps)
 *   shaper  the chain with a shaper (a FIFO server at 0.8 Mpps) between nat and vpn
 * Traffic: 0.6 Mpps of 32 GEN flows (Poisson, paced and on-off UDP, Poisson TCP;
 * 60-byte UDP and 66-byte TCP frames) with seeded rate weights.
 *
 * Scaling: 'scale' F divides every rate by F and multiplies every time constant
 * (fault times, periods, durations, on-off periods) by F, so a run is the same
 * in packet units (queue lengths, burst sizes) with F times fewer packets per
 * millisecond.  An explicit 'duration_ns' is taken as given (simulated time).
 *
 * Everything a scenario draws (fault times, pause lengths, flow weights) comes
 * from the seed, so (scenario, seed, scale, duration, topology) names a run. */
#ifndef SIM_SCENARIO_H
#define SIM_SCENARIO_H 1

#include <stddef.h>
#include <stdint.h>

struct sim_config;
struct vnet_error;

struct sim_scenario {
    const char *name;           /* "S1" .. "S9" */
    const char *topology;       /* default topology */
    uint64_t duration_ms;       /* default duration (unscaled) */
    const char *summary;        /* what is injected and what is expected */
};

size_t sim_scenario_count(void);
const struct sim_scenario *sim_scenario_at(size_t i);
/* Case-insensitive; NULL if unknown. */
const struct sim_scenario *sim_scenario_find(const char *name);

/* Builds the config of scenario 'name' for 'seed'.  'scale' >= 1 (see above);
 * 'duration_ns' 0 for the scenario's default; 'topology' NULL for its default or
 * "chain", "dag", "shaper".  Returns NULL and '*ret', or an error naming the
 * argument and what was expected. */
struct vnet_error *sim_scenario_config(const char *name, uint64_t seed, double scale,
                                       uint64_t duration_ns, const char *topology,
                                       struct sim_config *ret);

/* A fault-free config of 'topology' with the baseline traffic. */
struct vnet_error *sim_topology_config(const char *topology, uint64_t seed,
                                       double scale, uint64_t duration_ns,
                                       struct sim_config *ret);

#endif
