/* trace.h -- the data model every diagnoser reads: per-hop packet records.
 *
 * A 'struct diag_trace' is one analysis window of an NF system: the NFs and their
 * service graph (a DAG between the reserved endpoints SOURCE/ingress and egress),
 * the packets that entered it, and each packet's visits ("hops") to NFs in path
 * order.  It is produced by hop reconstruction (diag/match.c, from mirrored
 * captures or offline pcaps) or by the scenario simulator (tests/sim), and consumed
 * by Microscope (diag/microscope.h).  See ../shared/specs/diagnosis.md, section 1.
 *
 * Conventions: times are uint64_t nanoseconds on one host clock; rates are packets
 * per nanosecond; NF id 0 is reserved for SOURCE (ingress); NF_EGRESS marks the
 * egress endpoint in successor lists.
 *
 * Ownership: a trace owns all its arrays; diag_trace_destroy() frees them. */
#ifndef DIAG_TRACE_H
#define DIAG_TRACE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NF_SOURCE 0u
#define NF_EGRESS UINT32_MAX
#define DIAG_NF_NAME_MAX 32

struct flow5 {
    uint32_t sip, dip;          /* host byte order */
    uint16_t sport, dport;      /* 0 for protocols without ports */
    uint8_t proto;              /* IPPROTO_* */
};

enum hop_status {
    HOP_FORWARDED,              /* left the NF at t_dep */
    HOP_DROPPED_TAIL,           /* rejected at the input (queue full); never queued */
    HOP_DROPPED_INTERNAL,       /* entered the queue, never left */
    HOP_CONSUMED,               /* intended drop (policy) or absorbed: not a victim */
};

struct hop {                    /* one packet's visit to one NF */
    uint64_t uid;               /* global packet identity, assigned at ingress */
    uint64_t t_arr;             /* entered the NF's input queue */
    uint64_t t_dep;             /* left the NF (UINT64_MAX if it did not) */
    uint64_t t_drop;            /* estimated drop time if dropped */
    struct flow5 f_in, f_out;   /* header before and after the NF (NAT rewrites it) */
    uint32_t nf;                /* NF id (>= 1) */
    uint16_t len;               /* IP length in bytes */
    uint8_t status;             /* enum hop_status */
};

struct pkt {                    /* a trajectory, CSR-style */
    uint64_t uid;
    uint64_t t_ingress;         /* first time the NF system saw it ("source" time) */
    struct flow5 flow;          /* flow key at ingress: the culprit/victim key */
    uint32_t hop_off, hop_cnt;  /* hops[hop_off .. hop_off + hop_cnt) in path order */
};

struct nf_desc {
    uint32_t id;                /* index in diag_trace.nfs; 0 is SOURCE */
    char name[DIAG_NF_NAME_MAX];
    uint32_t type;              /* for the AutoFocus NF hierarchy (same type = same kind) */
    double r_peak;              /* packets/ns; 0 = unknown (estimate or "uncalibrated") */
    uint32_t qcap;              /* queue capacity in packets; 0 = unknown */
    uint32_t *preds;            /* predecessor ids (NF_SOURCE for ingress) */
    size_t n_preds;
    uint32_t *succs;            /* successor ids (NF_EGRESS for egress) */
    size_t n_succs;
};

/* Loss accounting that diagnosis must never hide (per NF; index = NF id). */
struct nf_accounting {
    uint64_t in_pkts, out_pkts;     /* captured arrivals and departures */
    uint64_t unmatched_out;         /* departures with no arrival (generated/capture gap) */
    uint64_t capture_drops;         /* reported by the capture back end */
};

struct diag_trace {
    struct nf_desc *nfs;        /* nfs[0] is SOURCE; real NFs are 1..n_nfs-1 */
    size_t n_nfs;
    struct pkt *pkts;           /* sorted by t_ingress */
    size_t n_pkts;
    struct hop *hops;
    size_t n_hops;
    struct nf_accounting *acct; /* n_nfs entries, may be NULL */
    uint64_t t_start, t_end;    /* the analysis window */
};

struct diag_trace *diag_trace_create(void);
void diag_trace_destroy(struct diag_trace *);

/* Returns the id of the NF named 'name', or -1. */
int diag_trace_find_nf(const struct diag_trace *, const char *name);

#endif
