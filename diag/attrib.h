/* attrib.h -- attributing the SOURCE share of a queue to ingress flows
 * (../shared/specs/diagnosis.md, A.10).
 *
 * Flows are the ingress 5-tuples of the trace's packets, interned to dense ids.
 * Each packet carries its flow's baseline: the EWMA arrival rate of that flow just
 * before the packet, so a burst never raises its own baseline.  A
 * 'struct attrib_group' counts the flows of one path group of a growing PreSet;
 * attrib_group_snapshot() turns those counts into shares -- by excess over the
 * baseline (e = max(0, n - rho * span)), falling back to packet counts, or by
 * counts alone -- and keeps them in a bounded store.  [CHOICE] Excess is the
 * default (microscope_config.excess_weighting): the EWMA (time constant 1 s) is
 * unbiased for the time observed since the window began, so steady flows get
 * their true rate from the start and a flow that first appears in a burst has a
 * baseline of 0.  Charging a snapshot with a victim's mass accumulates
 * per-flow culprit scores exactly, and culprit-flow -> victim-flow relations (for
 * the victim side of AutoFocus) from each snapshot's ATTRIB_TOP largest flows.
 *
 * Ownership: 'struct attrib' owns everything it returns pointers to; snapshot ids
 * and the pointers attrib_snapshot() returns stay valid until attrib_flush().
 * Thread-safety: none; one diagnosis owns one 'struct attrib'. */
#ifndef DIAG_ATTRIB_H
#define DIAG_ATTRIB_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct diag_trace;
struct flow5;
struct u64map;

#define ATTRIB_NONE UINT32_MAX
/* Relations keep, per snapshot, this many of its largest culprit flows. */
#define ATTRIB_TOP 16

struct attrib_share {
    uint32_t flow;
    double share;               /* shares of one snapshot sum to 1 */
};

/* Flow counts of one path group of a PreSet prefix. */
struct attrib_group {
    struct attrib_gentry *e;    /* distinct flows, in order of first packet */
    size_t n_e, cap_e;
    uint32_t *slots;            /* open addressing: entry index + 1, or 0 */
    size_t n_slots;
    size_t n;                   /* packets */
    uint32_t snap;              /* cached snapshot, if 'snap_gen' is current */
    size_t snap_n;
    uint64_t snap_gen;
};

/* Interns the flows of 'trace' and computes every packet's baseline rate with an
 * EWMA of time constant 'baseline_ns'.  With 'excess' false, shares are packet
 * counts.  Returns a new attribution context. */
struct attrib *attrib_create(const struct diag_trace *, bool excess,
                             uint64_t baseline_ns);
void attrib_destroy(struct attrib *);

size_t attrib_n_flows(const struct attrib *);
const struct flow5 *attrib_flow(const struct attrib *, uint32_t flow);
uint32_t attrib_pkt_flow(const struct attrib *, uint32_t pkt);

void attrib_group_init(struct attrib_group *);
void attrib_group_reset(struct attrib_group *);
void attrib_group_destroy(struct attrib_group *);
void attrib_group_add(struct attrib_group *, const struct attrib *, uint32_t pkt);

/* Returns the id of a snapshot of 'g''s shares for a SOURCE span of 'span_ns'.  A
 * snapshot taken when 'g' had less than 1/32 fewer packets is reused (its shares
 * are within that much of exact; small groups are always exact). */
uint32_t attrib_group_snapshot(struct attrib *, struct attrib_group *, double span_ns);

/* Returns the shares of snapshot 'snap', largest first, and their count. */
const struct attrib_share *attrib_snapshot(const struct attrib *, uint32_t snap,
                                           size_t *n);

/* Charges 'mass' of victim flow 'vflow''s blame to snapshot 'snap'. */
void attrib_charge(struct attrib *, uint32_t snap, double mass, uint32_t vflow);

/* True when the snapshot store should be flushed (between victims). */
bool attrib_full(const struct attrib *);
/* Moves every charge into the per-flow scores and relations and empties the
 * snapshot store (invalidating snapshot ids). */
void attrib_flush(struct attrib *);

/* After attrib_flush(): culprit score of every flow ([n_flows]). */
const double *attrib_flow_scores(const struct attrib *);
/* After attrib_flush(): the culprit-flow -> victim-flow relations, as a map from
 * (flow + 1) << 32 | vflow to the score (value .d). */
const struct u64map *attrib_pairs(const struct attrib *);

#endif
