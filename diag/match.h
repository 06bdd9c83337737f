/* match.h -- hop reconstruction: per-hop packet records from mirrored captures.
 *
 * A 'struct match' is fed every captured copy of a packet entering an NF ("in") or
 * leaving it ("out"), in time order, and turns them into the 'struct diag_trace' that
 * the diagnosers read (trace.h; ../shared/specs/diagnosis.md, B.2-B.5):
 *
 *  - Identity.  A packet gets a uid when it first enters the NF system.  On the OVS
 *    hop between two NFs the bytes are unchanged, so an arrival at f inherits the uid
 *    of the departure from one of f's predecessors with the same content key
 *    (packet.h).  An arrival that no predecessor sent (an NF fed by ingress, or a
 *    capture gap upstream) starts a new packet there (A.14).
 *  - Matching a departure to its arrival at the same NF, per NF class: by content
 *    key (non-rewriting NFs); by invariant key for NATs, falling back to a learned
 *    flow mapping (flow out -> flow in, B.2 option 2) with the invariant key minus
 *    the IP ID, for NATs that randomise it; in arrival order for keyless
 *    (encrypting/encapsulating) NFs, checking that the lengths are compatible
 *    (B.3 order-based alignment, without the ESP/WireGuard counters).  Each key has
 *    a FIFO of pending arrivals in an open-addressing table: O(1) expected per
 *    packet.
 *  - Drops (B.5): an arrival still pending after TO_f = max(k x p99 latency, 50 ms)
 *    is dropped (revocably for late_grace_ns: a departure after a long stall makes
 *    the hop FORWARDED again and counts as 'late'); at a FIFO NF, a departure also drops every earlier arrival still
 *    pending (fast path).  Such a drop stays revocable for TO_f: if the packet
 *    leaves after all, the NF reorders, the hop becomes FORWARDED and the fast path
 *    is switched off for that NF.  A drop is DROPPED_TAIL (t_drop = arrival) if the
 *    NF held at least qcap x (1 - margin) packets at the arrival, else
 *    DROPPED_INTERNAL (t_drop = departure of the first later arrival, or the time
 *    it was given up for when nothing overtook it).  With an unknown qcap every
 *    drop is internal.  At the end, the drops of flows that lost >= 99% of >= 100
 *    packets at an NF, and drops matching the NF's known rules, become CONSUMED.
 *  - Capture starting mid-stream (B.4): departures without an arrival before the
 *    NF's first observed Q = 0 are counted as warm-up, the rest as unmatched; both
 *    go into the trace's unmatched_out so the diagnosers wait for a Q = 0 too.
 *  - Nothing is hidden: 'struct match_stats' counts arrivals, departures, matches,
 *    unmatched and warm-up departures, orphan arrivals, drops by rule, reordering,
 *    frames that are not IP, and the capture back end's own losses.
 *
 * Memory: the matcher holds only packets in flight (pending arrivals, revocable
 * drops, departures waiting for the next NF's copy), each released after at most
 * TO_f or the link timeout.  What it produces accumulates until match_finish()
 * hands it over in the trace: 40 bytes per packet and 72 per hop, the hops of a
 * packet in slots reserved for the longest path of the graph (a packet lost early
 * keeps its unused slots until the end, when they are packed).
 *
 * Ownership: match_create() copies its arguments.  match_finish() returns a trace
 * the caller destroys with diag_trace_destroy(); afterwards only match_get_stats()
 * and match_destroy() may be called.  Thread-safety: none; one thread feeds a
 * matcher. */
#ifndef DIAG_MATCH_H
#define DIAG_MATCH_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag/trace.h"

struct packet_info;

enum match_class {
    MATCH_CONTENT,              /* does not rewrite headers: content key */
    MATCH_NAT,                  /* rewrites addresses/ports: invariant key */
    MATCH_KEYLESS,              /* encrypts or encapsulates: arrival order */
};

/* A known policy rule of an NF: packets whose flow (as they enter the NF) it
 * matches are dropped on purpose.  Zero fields match anything. */
struct match_rule {
    uint8_t proto;
    uint32_t src, src_mask, dst, dst_mask;
    uint16_t sport_lo, sport_hi, dport_lo, dport_hi;  /* hi 0: any */
};

/* Returns true if 'rule' matches 'flow'. */
bool match_rule_matches(const struct match_rule *, const struct flow5 *);

struct match_nf {
    const char *name;
    uint32_t type;              /* copied to nf_desc.type */
    enum match_class cls;
    double r_peak;              /* packets/ns, 0 = unknown */
    uint32_t qcap;              /* 0 = unknown */
    bool fifo;                  /* single queue, run to completion: fast path on */
    const uint32_t *preds;      /* NF ids, NF_SOURCE for ingress */
    size_t n_preds;
    const uint32_t *succs;      /* NF ids, NF_EGRESS for egress */
    size_t n_succs;
    const struct match_rule *rules;
    size_t n_rules;
};

struct match_config {
    uint64_t timeout_min_ns;    /* floor of TO_f (default 50 ms) */
    double timeout_p99_factor;  /* TO_f = max(floor, this x p99 latency) (10) */
    uint64_t link_timeout_ns;   /* how long a departure waits for the copy entering
                                 * the next NF (default 50 ms) */
    double tail_margin;         /* tail drop if Q >= qcap x (1 - this) (0.03) */
    double consumed_loss;       /* policy-drop heuristic: loss ratio (0.99) */
    uint32_t consumed_min;      /* ... over at least this many packets (100) */
    uint32_t keyless_lookahead; /* pending arrivals a keyless departure may skip (8) */
    uint32_t keyless_overhead;  /* largest |out - in| IP length change (128 bytes) */
    uint64_t late_grace_ns;     /* a timeout drop stays revocable this long (1 s) */
};
void match_config_init(struct match_config *);

struct match_stats {
    uint64_t in, out;           /* IP packets captured entering / leaving the NF */
    uint64_t skipped_in, skipped_out;  /* frames neither IPv4 nor IPv6, or malformed */
    uint64_t matched;           /* departures matched to their arrival */
    uint64_t matched_mapping;   /* ... of which through a learned NAT flow mapping */
    uint64_t warmup_out;        /* departures without arrival before the first Q = 0 */
    uint64_t unmatched_out;     /* later ones: generated packets or capture gaps */
    uint64_t orphan_in;         /* arrivals that no predecessor NF was seen sending */
    uint64_t drops_fifo;        /* drops found by the FIFO fast path */
    uint64_t drops_timeout;     /* drops found by the timeout */
    uint64_t tail_drops, internal_drops, consumed;  /* final classes (at the end) */
    uint64_t reordered;         /* departures that overtook an earlier arrival */
    uint64_t late;              /* departures after their arrival had timed out */
    uint64_t in_flight;         /* arrivals still pending at the end */
    uint64_t capture_drops;     /* reported by the capture back end */
    uint64_t timeout_ns;        /* the current TO_f */
    uint64_t latency_p99_ns;    /* the p99 latency TO_f is based on (0: none yet) */
    bool fifo;                  /* the fast path is (still) on */
};

/* Matched departures over departures that could have matched (all but warm-up);
 * 1 when there were none. */
double match_stats_rate(const struct match_stats *);

/* Creates a matcher for 'n_nfs' NFs: nfs[0] stands for SOURCE (ingress) and is
 * not read; nfs[1..n_nfs-1] are the NFs, whose ids are their indexes. */
struct match *match_create(const struct match_config *, const struct match_nf *nfs,
                           size_t n_nfs);
void match_destroy(struct match *);

/* Feeds one captured frame ('caplen' bytes at 'frame') that entered ('out' false)
 * or left ('out' true) NF 'nf' at time 't_ns'.  Frames must come in time order,
 * and at equal times by match_tie_rank(): an NF's arrivals before its departures,
 * its departures before its successors' arrivals.  (A live feeder merging several
 * capture rings should hold frames back a little to merge them in this order: an
 * arrival processed before the departure upstream it copies starts a new packet.) */
void match_packet(struct match *, uint32_t nf, bool out, uint64_t t_ns,
                  const uint8_t *frame, size_t caplen);

/* The same as match_packet() for a frame already parsed with packet_parse() (all
 * keys) or packet_parse_keys() (PACKET_KEY_INVARIANT needed at NATs). */
void match_parsed(struct match *, uint32_t nf, bool out, uint64_t t_ns,
                  const struct packet_info *);

/* The order of frames with equal timestamps: lower ranks first (2 x the NF's
 * depth in the graph, + 1 for departures). */
uint32_t match_tie_rank(const struct match *, uint32_t nf, bool out);

/* Declares that time has reached 'now_ns' although no packet came: expires
 * timeouts (call it regularly when feeding live). */
void match_advance(struct match *, uint64_t now_ns);

/* Adds 'n' packets that the capture of NF 'nf' lost. */
void match_add_capture_drops(struct match *, uint32_t nf, uint64_t n);

void match_get_stats(const struct match *, uint32_t nf, struct match_stats *);

/* How many records the matcher holds for packets in flight (for tests and
 * monitoring of its memory). */
size_t match_in_flight(const struct match *);

/* Ends the stream at 't_end_ns' (at least the last packet's time): arrivals older
 * than TO_f are dropped, younger ones stay in flight (FORWARDED with t_dep =
 * UINT64_MAX), policy drops become CONSUMED.  Returns the trace: packets sorted by
 * t_ingress with their hops in path order, the NFs with their graph, the
 * accounting per NF, and the window [first packet, t_end_ns]. */
struct diag_trace *match_finish(struct match *, uint64_t t_end_ns);

#endif
