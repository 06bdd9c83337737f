/* propagate.h -- splitting a queue's input score along the PreSet's upstream paths
 * (../shared/specs/diagnosis.md, A.6-A.9): NET (the stack rule), PROPAGATE over
 * DAG paths, and the incremental PreSet state that makes it cheap.
 *
 * A PreSet's packets are grouped by the path they took to the NF ("path group": the
 * NFs visited since ingress, or since the last capture gap).  Per group and hop the
 * span of departure times (ingress times for SOURCE) is netted against the expected
 * span T_exp = n_i / r_f; credits are weighted by the group's packet share and
 * normalised.  Victims of one busy period have nested PreSets (prefixes of one
 * arrival range), so 'struct propagate_ctx' keeps, per NF, running min/max per
 * (group, hop), the REPRESENTATIVE candidate per (group, hop) and the flow counts
 * per group, and extends them instead of rescanning (A.13).
 *
 * Ownership: a 'struct propagate_paths' owns its arrays.  A 'struct propagate_ctx'
 * borrows the trace, index, paths and attribution context given to
 * propagate_ctx_create(), which must outlive it; results of propagate_preset() are
 * valid until the next call.  Thread-safety: none. */
#ifndef DIAG_PROPAGATE_H
#define DIAG_PROPAGATE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct attrib;
struct diag_trace;
struct queueing_index;
struct vnet_error;

/* NET (A.7): credits of hops 0..k-1 (0 = SOURCE) whose spans are 'spans', against
 * the expected span 't_exp'.  A hop that widens the spread gets 0 and cancels the
 * credit of the nearest earlier hops that narrowed it (a stack); widening beyond
 * every earlier shrink is discarded.  Writes 'credit[0..k)' and returns the
 * discarded amount. */
double propagate_net(double t_exp, const double *spans, size_t k, double *credit);

/* One path group of a PreSet, for propagate_split(). */
struct propagate_group {
    size_t n;                   /* its packets */
    size_t k;                   /* hops including SOURCE at index 0 */
    const double *spans;        /* [k] spans in ns */
    const uint32_t *nfs;        /* [k] NF of each hop; nfs[0] is ignored (SOURCE) */
};

/* PROPAGATE (A.8) for a unit input score: writes 'src[g]', the share of group g's
 * SOURCE, and 'nf[x]' (for x < 'n_nfs', zeroed first), the share of NF x; together
 * they sum to 1.  Spans are clamped at 't_exp' before NET.  If no credit remains
 * (noise), every group's SOURCE gets its packet share.  'credit' is scratch for
 * twice the longest group. */
void propagate_split(double t_exp, const struct propagate_group *, size_t n_groups,
                     double *src, double *nf, size_t n_nfs, double *credit);

/* The path trie: every hop's path group at its NF. */
struct propagate_path {
    uint32_t parent;
    uint32_t depth;             /* NFs on the path */
    uint32_t off;               /* they are path_nfs[off .. off + depth) */
    bool gap;                   /* the path starts after a capture gap (A.14) */
};

struct propagate_paths {
    struct propagate_path *nodes;
    size_t n_nodes;
    uint32_t *path_nfs;
    uint32_t *hop_path;         /* [n_hops] path before the hop */
    uint32_t *hop_pkt;          /* [n_hops] packet of the hop */
    uint32_t max_depth;         /* longest path, in NFs */
};

/* Builds the trie and checks the packets' hop ranges.  A hop whose NF does not list
 * the previous NF (or SOURCE, for the first hop) among its predecessors starts a
 * new path after a capture gap; NFs with no predecessor list accept any.  Returns
 * NULL and '*ret', or an error naming the bad packet. */
struct vnet_error *propagate_paths_build(const struct diag_trace *,
                                         struct propagate_paths **ret);
void propagate_paths_destroy(struct propagate_paths *);

/* One culprit of PROPAGATE. */
struct propagate_culprit {
    bool source;
    uint32_t nf;                /* NF culprit (NF_SOURCE for SOURCE) */
    uint32_t rep_pos;           /* NF: REPRESENTATIVE (A.9), its position at 'nf' */
    uint32_t snap;              /* SOURCE: the flow-attribution snapshot (attrib.h) */
    double share;               /* > 0; all shares sum to 1 */
};

struct propagate_ctx *propagate_ctx_create(const struct diag_trace *,
                                           const struct queueing_index *,
                                           const struct propagate_paths *,
                                           struct attrib *);
void propagate_ctx_destroy(struct propagate_ctx *);

/* PROPAGATE at NF 'f' for the PreSet of positions [start, end), with
 * T_exp = (end - start) / 'r'.  Stores the culprits in '*ret' (valid until the
 * next call) and returns their number. */
size_t propagate_preset(struct propagate_ctx *, uint32_t f, uint32_t start,
                        uint32_t end, double r, const struct propagate_culprit **ret);

/* Evidence of the last propagate_preset(): its largest path group, with the
 * spans and NET credits per hop (SOURCE first).  Valid until the next call. */
struct propagate_evidence {
    double t_exp;               /* ns */
    size_t n, n_i;              /* the group's packets, of the PreSet's */
    size_t k;                   /* hops including SOURCE */
    const uint32_t *nfs;        /* [k]; nfs[0] is SOURCE */
    const double *spans;        /* [k] ns */
    const double *credit;       /* [k] */
};
void propagate_last_evidence(const struct propagate_ctx *, struct propagate_evidence *);

#endif
