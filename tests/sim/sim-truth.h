/* sim-truth.h -- ground truth by counterfactual (spec F.1) and its file, truth.json.
 *
 * sim_truth_compute() reruns a sim once per fault with that fault removed (same
 * arrivals) and compares every hop of the faulty run with the same packet's hop at
 * the same NF:
 *   - a hop is an *affected victim* of fault i if its latency at that NF drops by
 *     at least 50% without i, or it was dropped there and is not without i;
 *   - a packet that exists only because of fault i (a burst's own packets) is an
 *     affected victim of i where it was dropped, or where its latency is at least
 *     twice the median latency of that NF without i;
 *   - fault i's *contribution* is the reduction of Q(p) (the queue p found at that
 *     NF, spec A.2) without i, clamped at 0; a burst's own packets contribute all
 *     of their Q(p);
 *   - the *true culprit* of a victim is the fault, among those it is an affected
 *     victim of, with the largest contribution (on a tie, each of the tied faults
 *     is one: two faults that only queue a packet together contribute equally):
 *     "nf:<name>" for faults of an NF (pause, hog, cost, rate), "source" with the
 *     burst's 5-tuple for bursts.
 *
 * truth.json (format "vnet-sim-truth/1"), written by sim_truth_write():
 *   {"format", "scenario", "topology", "seed", "scale", "duration_ns", "epoch_ns",
 *    "join": text, "criterion": text,
 *    "faults": [{"kind": "pause"|"hog"|"cost"|"rate"|"burst", "culprit":
 *        "nf:<name>"|"source", "nf": name, "flow" (bursts: {"src", "dst", "sport",
 *        "dport", "proto"}), "start_ns" (absolute, epoch included), "len_ns",
 *        "period_ns", "count", and per kind "share", "slice_ns", "dport",
 *        "factor", "rate_pps"}],
 *    "nfs": {"<name>": {"packets", "drops", "affected"}} (the faulty run),
 *    "victims": [{"nf", "src", "dst", "sport", "dport", "proto" (the packet's
 *        5-tuple at ingress), "ip_id", "t_ingress_ns", "pkt", "dropped", "q",
 *        "latency_ns", "culprits": [{"fault" (index in "faults"), "culprit",
 *        "contribution", "affected"}] by descending contribution, the first
 *        affected one being the true culprit}]}
 * Joining with a diagnosis: a victim is (nf, ingress 5-tuple, t_ingress_ns), where
 * t_ingress_ns is the pcap timestamp of the packet entering the first NF of its
 * path (distinct per flow: the simulator never gives two packets of a flow the
 * same nanosecond), i.e. diag_trace pkt.t_ingress.  ip_id and pkt (the packet
 * number at the start of the payload) identify it in the pcaps.
 *
 * Ownership: a truth owns its victims; it does not refer to the sim. */
#ifndef SIM_TRUTH_H
#define SIM_TRUTH_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/sim/sim.h"

struct json_object;
struct vnet_error;

enum sim_culprit_kind {
    SIM_CULPRIT_NF,
    SIM_CULPRIT_FLOW,           /* "source": a source flow */
};

struct sim_truth_fault {
    char kind[8];
    enum sim_culprit_kind culprit;
    char nf[SIM_NAME_MAX];      /* the culprit NF, or where a burst enters */
    struct flow5 flow;          /* SIM_CULPRIT_FLOW */
    struct sim_fault fault;     /* as injected, times with the epoch */
};

struct sim_truth_victim {
    uint32_t nf;                /* index in nf_names */
    bool dropped;
    struct flow5 flow;          /* at ingress */
    uint64_t t_ingress;         /* as in the pcaps (epoch included) */
    uint16_t ip_id;
    uint32_t pkt;               /* packet number */
    uint32_t q;                 /* Q(p) with every fault */
    uint64_t latency_ns;        /* at 'nf'; 0 if dropped */
    uint32_t affected;          /* bit i: an affected victim of fault i */
    double contrib[SIM_MAX_FAULTS];
    int top;                    /* a true culprit's fault index (the first of ties) */
};

struct sim_truth_nf {
    uint64_t packets, drops, affected;
};

struct sim_truth {
    char scenario[16], topology[16];
    uint64_t seed;
    double scale;
    uint64_t duration_ns, epoch_ns;
    char nf_names[SIM_MAX_NFS][SIM_NAME_MAX];
    struct sim_truth_nf nfs[SIM_MAX_NFS];
    size_t n_nfs;
    struct sim_truth_fault faults[SIM_MAX_FAULTS];
    size_t n_faults;
    struct sim_truth_victim *victims;   /* by NF, then arrival order there */
    size_t n_victims;
};

/* Runs the counterfactuals of 'faulty' (a run with every fault of its sim) and
 * returns the truth (caller destroys it). */
struct sim_truth *sim_truth_compute(const struct sim_result *faulty);
void sim_truth_destroy(struct sim_truth *);

/* "nf:<name>" or "source". */
const char *sim_truth_culprit_name(const struct sim_truth_fault *, char *buf,
                                   size_t size);

struct json_object *sim_truth_to_json(const struct sim_truth *);
struct vnet_error *sim_truth_from_json(struct json_object *, struct sim_truth **ret);

/* truth.json: one victim per line.  Errors name the file. */
struct vnet_error *sim_truth_write(const struct sim_truth *, const char *path);
struct vnet_error *sim_truth_load(const char *path, struct sim_truth **ret);

/* {"src", "dst", "sport", "dport", "proto"} members added to 'obj', and back. */
void sim_flow_to_json(const struct flow5 *, struct json_object *obj);
struct vnet_error *sim_flow_from_json(struct json_object *obj, struct flow5 *ret);

#endif
