/* sim-scenario.c -- reference topologies and the scenario catalogue (spec F). */
#include "tests/sim/sim-scenario.h"

#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/error.h"
#include "lib/util.h"
#include "tests/sim/sim-rng.h"
#include "tests/sim/sim.h"

#define US UINT64_C(1000)
#define MS UINT64_C(1000000)
#define MPPS 1e6

/* The baseline of spec F.1. */
#define BASE_LOAD (0.6 * MPPS)
#define BASE_QCAP 1024
#define N_GEN_FLOWS 32
#define FLOW_A_RATE (0.1 * MPPS)
/* The S2/S8 burst flow's background rate (it exists before it bursts). */
#define BURST_FLOW_RATE (0.001 * MPPS)

/* Pause lengths of S1 and S7, by seed. */
static const uint64_t pause_us[] = { 50, 100, 300, 1000 };

static const struct sim_scenario scenarios[] = {
    { "S1", "chain|dag", 100,
      "NAT pauses X us (X = 50, 100, 300, 1000 by seed % 4) 3 times, 30 ms apart; "
      "chain for even seed / 4, dag otherwise.  Expect nf:nat rank 1 at nat and vpn" },
    { "S2", "chain", 100,
      "flow 10.9.0.66:7777 bursts at 1.5 x r_fw (3 Mpps) for 340 us, 3 times.  "
      "Expect that flow (source) rank 1 at fw and downstream" },
    { "S3", "chain", 120,
      "CPU hog on fw's core: 20 ms on / 20 ms off, 50% share in 1 ms slices.  "
      "Expect nf:fw rank 1" },
    { "S4a", "chain", 100,
      "fw costs 3x for dst port 5060 (about half the traffic) from ~20 ms on, "
      "r_fw as calibrated.  Expect nf:fw rank 1" },
    { "S4b", "chain", 100,
      "vpn peak rate 0.8 x the offered load (0.48 Mpps) throughout.  Expect source "
      "dominant with vpn labelled at capacity; the operator's culprit is vpn" },
    { "S5", "dag", 100,
      "nat stalls 200 us every 2 ms.  Expect nf:nat rank 1 for vpn victims, flow A "
      "included" },
    { "S6", "dag", 100,
      "nat and mon pause 200 us together, 3 times (mon carries 2x nat's rate).  "
      "Expect nf:mon > nf:nat at vpn, in the counterfactual ratio" },
    { "S7", "shaper", 100,
      "nat pauses X us (as S1) with a 0.8 Mpps shaper between nat and vpn.  Expect "
      "nf:nat rank 1, the shaper never above 3rd" },
    { "S8", "chain", 100,
      "the S2 burst with vpn qcap 128: drop victims at vpn.  Expect the burst flow "
      "rank 1" },
    { "S9", "chain", 1000,
      "no fault.  Expect no culprit above 20% of the score in any 1 s window" },
};

size_t
sim_scenario_count(void)
{
    return VNET_ARRAY_SIZE(scenarios);
}

const struct sim_scenario *
sim_scenario_at(size_t i)
{
    return i < VNET_ARRAY_SIZE(scenarios) ? &scenarios[i] : NULL;
}

const struct sim_scenario *
sim_scenario_find(const char *name)
{
    for (size_t i = 0; i < VNET_ARRAY_SIZE(scenarios); i++) {
        if (!strcasecmp(scenarios[i].name, name)) {
            return &scenarios[i];
        }
    }
    return NULL;
}

/* ---- Topologies and traffic (unscaled). ---- */

static uint8_t
add_nf(struct sim_config *c, const char *name, double mpps, bool nat)
{
    struct sim_nf *nf = &c->nfs[c->n_nfs];
    *nf = (struct sim_nf) { .nat = nat, .rate_pps = mpps * MPPS, .qcap = BASE_QCAP };
    vnet_strlcpy(nf->name, name, sizeof nf->name);
    return (uint8_t) c->n_nfs++;
}

static uint32_t
ip4(uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    return a << 24 | b << 16 | c << 8 | d;
}

static struct sim_flow *
add_flow(struct sim_config *c, struct flow5 tuple, enum sim_source kind, double rate,
         const uint8_t *path, uint8_t path_len)
{
    struct sim_flow *f = &c->flows[c->n_flows++];
    *f = (struct sim_flow) {
        .tuple = tuple, .kind = kind, .rate_pps = rate, .path_len = path_len,
        .frame_len = tuple.proto == IPPROTO_TCP ? SIM_FRAME_MIN_TCP : SIM_FRAME_MIN,
    };
    memcpy(f->path, path, path_len);
    if (kind == SIM_SRC_ONOFF) {
        /* Half the time on at twice the mean rate. */
        f->on_ns = f->off_ns = 2 * MS;
        f->rate_pps = 2 * rate;
    }
    return f;
}

/* GEN flow i: a mix of Poisson, paced and on-off UDP and Poisson TCP. */
static struct flow5
gen_tuple(uint32_t i)
{
    static const uint16_t ports[] = { 53, 80, 5060, 443, 8080, 123, 4500, 1194 };
    bool tcp = i % 8 == 3;
    return (struct flow5) {
        .sip = ip4(10, 1, 0, i + 1), .dip = ip4(192, 168, i % 4, 10 + i),
        .sport = (uint16_t) (10000 + 7 * i), .dport = ports[i % 8],
        .proto = tcp ? IPPROTO_TCP : IPPROTO_UDP,
    };
}

static enum sim_source
gen_kind(uint32_t i)
{
    return i % 8 == 7 ? SIM_SRC_ONOFF : i % 8 == 5 ? SIM_SRC_PACED : SIM_SRC_POISSON;
}

/* Adds the GEN flows: 'total' pps split with seeded weights in [0.5, 1.5) among
 * the flows of each path group, group g getting share[g] of 'total'. */
static void
add_gen(struct sim_config *c, struct sim_rng *rng, double total,
        const uint8_t paths[][SIM_MAX_PATH], const uint8_t *path_lens,
        const double *share, size_t n_groups)
{
    double w[N_GEN_FLOWS], sum[4] = { 0 };
    for (uint32_t i = 0; i < N_GEN_FLOWS; i++) {
        w[i] = 0.5 + sim_rng_uniform(rng);
        sum[i % n_groups] += w[i];
    }
    for (uint32_t i = 0; i < N_GEN_FLOWS; i++) {
        size_t g = i % n_groups;
        add_flow(c, gen_tuple(i), gen_kind(i), total * share[g] * w[i] / sum[g],
                 paths[g], path_lens[g]);
    }
}

static struct vnet_error *
build_topology(struct sim_config *c, const char *topology, struct sim_rng *rng)
{
    vnet_strlcpy(c->topology, topology, sizeof c->topology);
    if (!strcmp(topology, "chain") || !strcmp(topology, "shaper")) {
        bool shaper = !strcmp(topology, "shaper");
        uint8_t paths[1][SIM_MAX_PATH];
        uint8_t n = 0;
        paths[0][n++] = add_nf(c, "fw", 2.0, false);
        paths[0][n++] = add_nf(c, "nat", 1.5, true);
        if (shaper) {
            paths[0][n++] = add_nf(c, "shaper", 0.8, false);
        }
        paths[0][n++] = add_nf(c, "vpn", 1.0, false);
        static const double all[] = { 1.0 };
        add_gen(c, rng, BASE_LOAD, (const uint8_t (*)[SIM_MAX_PATH]) paths, &n, all, 1);
        return NULL;
    }
    if (!strcmp(topology, "dag")) {
        uint8_t nat = add_nf(c, "nat", 1.5, true);
        uint8_t mon = add_nf(c, "mon", 1.5, false);
        uint8_t vpn = add_nf(c, "vpn", 1.0, false);
        struct flow5 a = {
            .sip = ip4(10, 2, 0, 1), .dip = ip4(192, 168, 100, 1), .sport = 5004,
            .dport = 5004, .proto = IPPROTO_UDP,
        };
        add_flow(c, a, SIM_SRC_POISSON, FLOW_A_RATE, &vpn, 1);
        const uint8_t paths[2][SIM_MAX_PATH] = { { nat, vpn }, { mon, vpn } };
        static const uint8_t lens[] = { 2, 2 };
        static const double share[] = { 1.0 / 3, 2.0 / 3 };
        add_gen(c, rng, BASE_LOAD - FLOW_A_RATE, paths, lens, share, 2);
        return NULL;
    }
    return vnet_error_create(VNET_ERR_INVALID, "topology: expected chain, dag or "
                             "shaper, got '%s'", topology);
}

/* Index of NF 'name', or an error saying the topology lacks it. */
static struct vnet_error *
need_nf(const struct sim_config *c, const char *scenario, const char *name,
        uint32_t *ret)
{
    int i = sim_find_nf(c, name);
    if (i < 0) {
        return vnet_error_create(VNET_ERR_INVALID, "topology: scenario %s injects a "
                                 "fault into '%s', which topology %s lacks", scenario,
                                 name, c->topology);
    }
    *ret = (uint32_t) i;
    return NULL;
}

static struct sim_fault *
add_fault(struct sim_config *c, enum sim_fault_kind kind, uint32_t nf)
{
    struct sim_fault *f = &c->faults[c->n_faults++];
    *f = (struct sim_fault) { .kind = kind, .nf = nf };
    return f;
}

/* The burst flow of S2/S8, routed like GEN flow 0, bursting 3 times. */
static void
add_burst(struct sim_config *c, struct sim_rng *rng)
{
    struct sim_flow *like = &c->flows[c->flows[0].path_len == 1 ? 1 : 0];
    struct flow5 t = {
        .sip = ip4(10, 9, 0, 66), .dip = ip4(192, 168, 9, 9), .sport = 7777,
        .dport = 9999, .proto = IPPROTO_UDP,
    };
    uint32_t flow = (uint32_t) c->n_flows;
    add_flow(c, t, SIM_SRC_PACED, BURST_FLOW_RATE, like->path, like->path_len);
    /* 1.5 x the rate of the first NF it enters (r_fw in the chain). */
    struct sim_fault *f = add_fault(c, SIM_FAULT_BURST, 0);
    f->flow = flow;
    f->rate_pps = 1.5 * c->nfs[like->path[0]].rate_pps;
    f->len_ns = 340 * US;
    f->start_ns = 20 * MS + (uint64_t) (sim_rng_uniform(rng) * 5 * MS);
    f->period_ns = 30 * MS;
    f->count = 3;
}

static struct vnet_error *
add_pauses(struct sim_config *c, const char *scenario, const char *nf_name,
           uint64_t len, uint64_t start)
{
    uint32_t nf = 0;
    struct vnet_error *error = need_nf(c, scenario, nf_name, &nf);
    if (!error) {
        struct sim_fault *f = add_fault(c, SIM_FAULT_PAUSE, nf);
        f->start_ns = start;
        f->len_ns = len;
        f->period_ns = 30 * MS;
        f->count = 3;
    }
    return error;
}

/* Injects the faults of scenario 'name' into the topology in 'c'. */
static struct vnet_error *
build_faults(struct sim_config *c, const char *name, uint64_t seed,
             struct sim_rng *rng)
{
    uint64_t start = 20 * MS + (uint64_t) (sim_rng_uniform(rng) * 5 * MS);
    uint32_t nf = 0;
    struct vnet_error *error = NULL;
    if (!strcmp(name, "S1") || !strcmp(name, "S7")) {
        return add_pauses(c, name, "nat", pause_us[seed % 4] * US, start);
    } else if (!strcmp(name, "S2")) {
        add_burst(c, rng);
    } else if (!strcmp(name, "S3")) {
        if (!(error = need_nf(c, name, "fw", &nf))) {
            struct sim_fault *f = add_fault(c, SIM_FAULT_HOG, nf);
            f->start_ns = start - 5 * MS;
            f->len_ns = 20 * MS;
            f->period_ns = 40 * MS;
            f->share = 0.5;
            f->slice_ns = 1 * MS;
        }
    } else if (!strcmp(name, "S4a")) {
        if (!(error = need_nf(c, name, "fw", &nf))) {
            for (size_t i = 0; i < c->n_flows; i++) {
                if (i % 2 == 0 && c->flows[i].path[0] == nf) {
                    c->flows[i].tuple.dport = 5060;
                }
            }
            struct sim_fault *f = add_fault(c, SIM_FAULT_COST, nf);
            f->start_ns = start;
            f->dport = 5060;
            f->factor = 3;
        }
    } else if (!strcmp(name, "S4b")) {
        if (!(error = need_nf(c, name, "vpn", &nf))) {
            struct sim_fault *f = add_fault(c, SIM_FAULT_RATE, nf);
            f->factor = 0.8 * BASE_LOAD / c->nfs[nf].rate_pps;
        }
    } else if (!strcmp(name, "S5")) {
        if (!(error = need_nf(c, name, "nat", &nf))) {
            struct sim_fault *f = add_fault(c, SIM_FAULT_PAUSE, nf);
            f->start_ns = 10 * MS + (uint64_t) (sim_rng_uniform(rng) * 2 * MS);
            f->len_ns = 200 * US;
            f->period_ns = 2 * MS;
        }
    } else if (!strcmp(name, "S6")) {
        if (!(error = add_pauses(c, name, "nat", 200 * US, start))) {
            error = add_pauses(c, name, "mon", 200 * US, start);
        }
    } else if (!strcmp(name, "S8")) {
        if (!(error = need_nf(c, name, "vpn", &nf))) {
            c->nfs[nf].qcap = 128;
            add_burst(c, rng);
        }
    }
    return error;
}

static void
scale_config(struct sim_config *c, double k)
{
#define T(x) ((x) = (uint64_t) llround((double) (x) * k))
    for (size_t i = 0; i < c->n_nfs; i++) {
        c->nfs[i].rate_pps /= k;
        T(c->nfs[i].batch_timeout_ns);
    }
    for (size_t i = 0; i < c->n_flows; i++) {
        struct sim_flow *f = &c->flows[i];
        f->rate_pps /= k;
        T(f->on_ns);
        T(f->off_ns);
        T(f->start_ns);
        T(f->stop_ns);
    }
    for (size_t i = 0; i < c->n_faults; i++) {
        struct sim_fault *f = &c->faults[i];
        f->rate_pps /= k;
        T(f->start_ns);
        T(f->len_ns);
        T(f->period_ns);
        T(f->slice_ns);
    }
    T(c->duration_ns);
    T(c->link_delay_ns);
#undef T
}

static struct vnet_error *
check_common(double scale)
{
    if (!(scale >= 1 && scale <= 1000)) {
        return vnet_error_create(VNET_ERR_INVALID, "scale: expected a factor 1..1000, "
                                 "got %g", scale);
    }
    return NULL;
}

static void
init_config(struct sim_config *c, uint64_t seed, double scale, uint64_t duration_ms)
{
    memset(c, 0, sizeof *c);
    c->seed = seed;
    c->scale = scale;
    c->duration_ns = duration_ms * MS;
    c->link_delay_ns = 2 * US;
    c->epoch_ns = UINT64_C(1700000000) * 1000000000u;
}

struct vnet_error *
sim_topology_config(const char *topology, uint64_t seed, double scale,
                    uint64_t duration_ns, struct sim_config *ret)
{
    struct vnet_error *error = check_common(scale);
    if (error) {
        return error;
    }
    struct sim_config *c = vnet_xmalloc(sizeof *c);
    init_config(c, seed, scale, 100);
    vnet_strlcpy(c->scenario, "baseline", sizeof c->scenario);
    struct sim_rng rng;
    sim_rng_init(&rng, seed, UINT64_C(0x70b0));
    error = build_topology(c, topology, &rng);
    if (!error) {
        scale_config(c, scale);
        if (duration_ns) {
            c->duration_ns = duration_ns;
        }
        *ret = *c;
    }
    free(c);
    return error;
}

struct vnet_error *
sim_scenario_config(const char *name, uint64_t seed, double scale,
                    uint64_t duration_ns, const char *topology, struct sim_config *ret)
{
    const struct sim_scenario *sc = sim_scenario_find(name);
    if (!sc) {
        return vnet_error_create(VNET_ERR_INVALID, "scenario: expected S1..S9 (S4a, "
                                 "S4b), got '%s'", name);
    }
    struct vnet_error *error = check_common(scale);
    if (error) {
        return error;
    }
    if (!topology) {
        topology = strcmp(sc->topology, "chain|dag") ? sc->topology
                   : (seed / 4) % 2 ? "dag" : "chain";
    }
    struct sim_config *c = vnet_xmalloc(sizeof *c);
    init_config(c, seed, scale, sc->duration_ms);
    vnet_strlcpy(c->scenario, sc->name, sizeof c->scenario);
    struct sim_rng rng;
    sim_rng_init(&rng, seed, UINT64_C(0x70b0));
    error = build_topology(c, topology, &rng);
    if (!error) {
        struct sim_rng frng;
        sim_rng_init(&frng, seed, UINT64_C(0xfa17));
        error = build_faults(c, sc->name, seed, &frng);
    }
    if (!error) {
        scale_config(c, scale);
        if (duration_ns) {
            c->duration_ns = duration_ns;
        }
        *ret = *c;
    }
    free(c);
    return error;
}
