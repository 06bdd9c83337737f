/* microscope.h -- queue-based root-cause diagnosis (Microscope) with AutoFocus
 * aggregation, over a 'struct diag_trace' (trace.h).
 *
 * The algorithm is specified in ../shared/specs/diagnosis.md, part A: victims are
 * packets whose per-NF latency exceeds mu + k*sigma or that were dropped; each
 * victim's queue Q(p) = n_i - n_p over its queuing period is split into a local
 * processing score S_p (blame on the NF itself) and an input score S_i, which is
 * propagated upstream along the PreSet's paths (NET / PROPAGATE), recursively, down
 * to NFs and to source flows.  Results are aggregated globally, per NF, and into
 * AutoFocus patterns.
 *
 * Everything here is pure: no I/O, no logging above debug, no globals.
 *
 * Ownership: microscope_diagnose() returns a report the caller destroys with
 * diag_report_destroy(); pointers inside it stay valid until then.  The report does
 * not reference the trace. */
#ifndef DIAG_MICROSCOPE_H
#define DIAG_MICROSCOPE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag/trace.h"

struct json_object;
struct vnet_error;

struct microscope_config {
    double k_sigma;             /* victim threshold: latency above the history's
                                 * p50 + k * (p84 - p50), the quantile analogue
                                 * of mu + k * sigma (default 1) */
    uint64_t history_ns;        /* sliding history of packet latencies (default 5 s) */
    uint64_t t_max_ns;          /* queuing-period cap (default 50 ms) */
    uint32_t n_max;             /* queuing-period cap in packets (default 2^20) */
    double eps;                 /* recursion stops below this mass (default 0.01) */
    bool excess_weighting;      /* A.10: blame source flows by excess (default true) */
    double autofocus_h;         /* culprit-side threshold (default 0.05) */
    double autofocus_hv;        /* victim-side threshold (default 0.10) */
    bool estimate_peak;         /* A.3 online estimate when r_peak is 0 (default true) */
    uint32_t min_history;       /* packets the sliding history needs before it
                                 * sets the threshold; until then the window's
                                 * latency quantiles do (default 32) */
    uint64_t baseline_ns;       /* A.10 EWMA time constant of flow rates (default 1 s) */
    uint32_t max_depth;         /* recursion bound; 0 = longest path (default 0) */
    uint32_t victims_per_s;     /* A.4 sampling: diagnose at most this many victims
                                 * per second per NF, evenly spread, each standing
                                 * for the ones skipped; 0 = all (default 10000) */
};
void microscope_config_init(struct microscope_config *);

enum diag_culprit_kind {
    DIAG_CULPRIT_NF,            /* local processing of NF 'nf' */
    DIAG_CULPRIT_FLOW,          /* source traffic of flow 'flow' */
    DIAG_CULPRIT_BACKLOG,       /* pre-existing overload at 'nf' (T_max cap) */
    DIAG_CULPRIT_UNRESOLVED,    /* input share at 'nf' not resolved further */
};

/* A victim lists at most DIAG_VICTIM_FLOWS source flows by name; the rest of its
 * source blame is one FLOW entry whose 'flow' is all zeros ("other flows"). */
#define DIAG_VICTIM_FLOWS 8

struct diag_blame {
    enum diag_culprit_kind kind;
    uint32_t nf;                /* NF id for NF/BACKLOG/UNRESOLVED */
    struct flow5 flow;          /* for FLOW */
    double score;               /* packet units */
};

struct diag_victim {
    uint64_t uid;
    uint32_t nf;                /* the NF where it was a victim */
    bool dropped;
    bool service_time;          /* Q(p) = 0: its own service was slow */
    double q;                   /* Q(p) */
    struct diag_blame *blame;   /* sorted by descending score; sums to max(Q, 1) */
    size_t n_blame;
};

struct diag_report;

/* Diagnoses every victim in 'trace'.  Returns NULL and '*ret' on success, or an
 * error for a trace that cannot be diagnosed at all (e.g. no NF has a peak rate and
 * none can be estimated).  NFs that cannot be diagnosed individually are listed in
 * the report as "uncalibrated" instead. */
struct vnet_error *microscope_diagnose(const struct diag_trace *,
                                       const struct microscope_config *,
                                       struct diag_report **ret);

/* Per-victim results, in the order victims were found. */
size_t diag_report_n_victims(const struct diag_report *);
const struct diag_victim *diag_report_victim(const struct diag_report *, size_t i);
/* How many victims victim 'i' stands for: 1, or more when the victims of an NF
 * were sampled (microscope_config.victims_per_s); global and per-NF scores are
 * weighted by it. */
double diag_report_victim_weight(const struct diag_report *, size_t i);

/* The offline contract (`vnetctl diagnose --offline DIR --json` prints exactly
 * this; see issue "Diagnosers" and vnetctl(8)).  Returns a new object:
 *   "culprits": [{"culprit": "nf:<name>" | "source", "score", "share"}], by
 *       descending score; all source flows are one "source" entry;
 *   "pseudo_culprits": the same for "backlog:<name>" (pre-existing overload,
 *       T_max cap) and "unresolved:<name>" (input share not split further);
 *       shares of both lists together sum to 1;
 *   "patterns": AutoFocus lines by descending score, {"culprit", "src", "dst"
 *       ("a.b.c.d/len"), "sport", "dport" ("lo-hi"), "proto" ("tcp", "udp",
 *       "icmp", a number, or "*"), "score"}: for "source" the culprit traffic
 *       (plus "weight" and its victim-side lines in "victims"), for "nf:<name>"
 *       the victim traffic; "rest": true marks what no line explains;
 *   "victims": victims found (a packet counts once per NF where it is one),
 *   "victims_diagnosed", "victim_packets" (distinct), "total_score";
 *   "nfs": {"<name>": {"packets", "drops", "latency_p50_us", "latency_p99_us",
 *       "victims", "diagnosed", "calibrated", "r_pps", "r_source" ("config" or
 *       "estimated"), "busy_windows", "arrival_pps", "culprits": [{"culprit",
 *       "score"}] (blame for the victims at that NF), "pseudo_culprits"}};
 *   "uncalibrated": [names], "labels": [{"nf", "label": "at-capacity", "text"}];
 *   "explanations": per top culprit, the victim where it scored most, with its
 *       queuing period and the input spread per hop ("shrank": the hop that
 *       narrowed it most);
 *   "relations": the heaviest (culprit, victim NF, victim flow, score). */
struct json_object *diag_report_to_json(const struct diag_report *);
/* A readable report: ranked culprits with their evidence (caller frees). */
char *diag_report_to_text(const struct diag_report *);

void diag_report_destroy(struct diag_report *);

#endif
