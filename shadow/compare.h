/* compare.h -- the shadow-vs-production verdict: SWAP, KEEP or INCONCLUSIVE.
 *
 * Ingress traffic is duplicated into production and its shadow, so every packet
 * has an outcome in each chain.  From those pairs this module computes per-flow
 * and per-class metrics (loss, one-way latency P50/P99, RFC 3550 jitter, P99 of
 * the delay variation, reordering, and for VoIP the E-model R and MOS), reduces
 * each class to sub-window statistics (default 100 ms) to get rid of the packets'
 * autocorrelation, tests "shadow better / worse" on them (paired Wilcoxon on
 * sub-window median and P99 latency and on sub-window MOS; McNemar on packets lost
 * in exactly one chain), corrects with Holm at family alpha 0.05, and applies the
 * swap rule of ../shared/specs/diagnosis.md, E.3 [CHOICE].  Two guards against
 * dependence the spec's tests assume away: the signed-rank variance is the
 * autocorrelation-robust one (congestion outlasts sub-windows), and McNemar's p
 * counts only if a window-clustered test of the loss increase agrees (bursty
 * loss).  The rule:
 *
 *   (i)   some key metric (P99 latency, MOS, loss) of some class is significantly
 *         better by a practical margin (P99 -10%, MOS +0.1, loss -50% relative);
 *   (ii)  no metric of any class is significantly worse beyond a non-inferiority
 *         margin ([CHOICE] latency +10 % relative, the size clause (i) calls a
 *         practical effect, and MOS -0.1: a strict-priority fix that makes bulk
 *         traffic 2-9 % slower for a far better call, as measured on the real
 *         chain, is not a regression), and the one-sided 95% upper bound of each
 *         class's loss
 *         increase is under 0.1 percentage point;
 *   (iii) every VoIP flow has MOS >= 4.0 in the shadow;
 *   (iv)  enough was observed: by default 5 minutes and 1000 sub-windows
 *         (configurable: tests and demos watch shorter);
 *   (v)   the shadow did not consume or divert packets of legitimate flows that
 *         production delivered.
 *
 * SWAP needs all five.  KEEP means the shadow is worse (a significant regression,
 * a VoIP flow under 4.0, a structural change) or, with enough data, brings no
 * practical improvement.  INCONCLUSIVE means not enough evidence: too short an
 * observation, or an improvement whose loss non-inferiority cannot yet be shown.
 * The same-packet design makes the paired tests valid; closed-loop (TCP) flows in
 * the shadow follow production's feedback, so their results are indicative only.
 *
 * Ownership: the input is borrowed for the call; the result owns copies of all it
 * shows and is freed with compare_result_destroy().  Pure: no I/O, no logging, no
 * globals.  Thread-safety: reentrant. */
#ifndef SHADOW_COMPARE_H
#define SHADOW_COMPARE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag/emodel.h"
#include "diag/trace.h"

struct json_object;
struct vnet_error;

enum compare_outcome {
    COMPARE_DELIVERED,          /* left the chain at its exit time */
    COMPARE_LOST,               /* never left it */
    COMPARE_CONSUMED,           /* dropped on purpose (policy, e.g. a firewall rule) */
    COMPARE_ALTERED,            /* left it, but by another path or rewritten
                                 * differently than in the other chain */
};

/* One ingress packet and what became of it in each chain. */
struct compare_pkt {
    uint64_t t_entry;           /* ns; the packet entered both chains then */
    uint64_t t_exit_prod;       /* ns; for DELIVERED/ALTERED */
    uint64_t t_exit_shadow;
    uint8_t prod, shadow;       /* enum compare_outcome */
    uint16_t cls;               /* index into compare_input.classes */
    struct flow5 flow;          /* flow key at ingress */
};

struct compare_class {
    const char *name;           /* "voip", "web", ... (required) */
    bool voip;                  /* RTP: E-model metrics and clause (iii) */
    enum emodel_codec codec;
    bool untrusted;             /* not legitimate traffic (e.g. an attack the fix
                                 * now blocks): exempt from clause (v) */
};

struct compare_input {
    const struct compare_pkt *pkts;     /* sorted by t_entry */
    size_t n_pkts;
    const struct compare_class *classes;
    size_t n_classes;
};

struct compare_config {
    uint64_t subwindow_ns;      /* default 100 ms */
    double alpha;               /* family-wise, Holm (default 0.05) */
    uint64_t min_duration_ns;   /* clause (iv), default 5 min */
    uint64_t min_subwindows;    /* clause (iv), default 1000 */
    size_t min_pairs;           /* paired sub-windows a class needs before its
                                 * latency/MOS tests run (default 10) */
    double p99_gain;            /* clause (i): relative P99 cut (default 0.10) */
    double mos_gain;            /* clause (i): MOS increase (default 0.1) */
    double loss_gain;           /* clause (i): relative loss cut (default 0.5) */
    double loss_margin;         /* clause (ii): loss increase bound (0.001) */
    double latency_margin;      /* clause (ii): a latency worse by at most this
                                 * (relative, 0.10) is non-inferior */
    double mos_margin;          /* clause (ii): the same for MOS (0.1) */
    double min_voip_mos;        /* clause (iii) (default 4.0) */
    double jb_ms;               /* E-model playout buffer (default 40) */
};
void compare_config_init(struct compare_config *);

enum compare_verdict {
    COMPARE_SWAP,
    COMPARE_KEEP,
    COMPARE_INCONCLUSIVE,
};
/* "SWAP", "KEEP", "INCONCLUSIVE". */
const char *compare_verdict_name(enum compare_verdict);

enum compare_metric {
    COMPARE_LATENCY_P50,
    COMPARE_LATENCY_P99,
    COMPARE_LOSS,
    COMPARE_MOS,
    COMPARE_N_METRICS
};
/* "latency-p50", "latency-p99", "loss", "mos". */
const char *compare_metric_name(enum compare_metric);

/* One chain's view of a flow or a class.  Latencies are one-way, entry to exit,
 * in microseconds, over the packets that left the chain (NAN if none). */
struct compare_side {
    uint64_t sent, delivered, lost, consumed, altered;
    double loss;                /* lost / sent */
    double mean_us, p50_us, p99_us;
    double jitter_us;           /* RFC 3550 (a class: the mean over its flows) */
    double ipdv_p99_us;         /* P99 of |d(k) - d(k-1)| within flows */
    uint64_t reordered;         /* left after a packet that entered later */
    double r, mos;              /* VoIP (a class: the mean over its flows); NAN
                                 * otherwise */
};

struct compare_flow_result {
    struct flow5 flow;
    size_t cls;
    struct compare_side prod, shadow;
};

struct compare_class_result {
    char *name;
    bool voip;
    struct compare_side prod, shadow;
    uint64_t n_pairs;           /* sub-windows with latency in both chains */
    uint64_t lost_only_shadow;  /* McNemar b */
    uint64_t lost_only_prod;    /* McNemar c */
    double loss_increase;       /* shadow - production loss fraction */
    double loss_increase_ucb;   /* its one-sided upper confidence bound */
    uint64_t structural;        /* consumed/altered in the shadow, delivered in
                                 * production */
    uint64_t structural_reverse;        /* the other way round (reported only) */
    double min_flow_mos_shadow; /* VoIP: the worst flow's MOS in the shadow */
};

struct compare_test {
    size_t cls;
    enum compare_metric metric;
    const char *method;         /* "wilcoxon-signed-rank" or "mcnemar+window-z" */
    size_t n;                   /* pairs (windows) or discordant packets */
    double statistic, z;
    double p_two, p_holm;
    int direction;              /* -1 shadow better, +1 shadow worse, 0 neither */
    bool significant;           /* Holm-rejected at the family alpha */
    double effect;              /* relative change (latency, loss) or MOS gain */
    bool practical;             /* a key metric better by the clause (i) margin */
};

enum compare_clause {
    COMPARE_CLAUSE_IMPROVEMENT,         /* (i) */
    COMPARE_CLAUSE_NO_REGRESSION,       /* (ii) */
    COMPARE_CLAUSE_VOIP_QUALITY,        /* (iii) */
    COMPARE_CLAUSE_OBSERVATION,         /* (iv) */
    COMPARE_CLAUSE_STRUCTURE,           /* (v) */
    COMPARE_N_CLAUSES
};

struct compare_reason {
    bool ok;
    char *text;                 /* what was found, with the numbers */
};

struct compare_result {
    enum compare_verdict verdict;
    struct compare_reason clauses[COMPARE_N_CLAUSES];
    uint64_t n_pkts;
    uint64_t duration_ns;       /* first to last entry */
    uint64_t n_subwindows;      /* sub-windows with packets */
    struct compare_class_result *classes;       /* one per input class */
    size_t n_classes;
    struct compare_flow_result *flows;  /* in order of first appearance */
    size_t n_flows;
    struct compare_test *tests;
    size_t n_tests;
};

/* Compares the two chains over 'in'.  Returns NULL and '*ret' (caller destroys),
 * or an error naming the packet or class that makes the input unusable (not
 * sorted, a class out of range, an exit before the entry). */
struct vnet_error *compare_run(const struct compare_input *,
                               const struct compare_config *,
                               struct compare_result **ret);

/* {"verdict", "clauses": [{"clause": "i", "ok", "text"}...], "classes", "flows",
 * "tests", ...}. */
struct json_object *compare_result_to_json(const struct compare_result *);
/* The verdict, the clauses and a table per class (caller frees). */
char *compare_result_to_text(const struct compare_result *);
void compare_result_destroy(struct compare_result *);

#endif
