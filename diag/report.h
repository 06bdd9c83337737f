/* report.h -- the layout of a Microscope report (struct diag_report, microscope.h)
 * and its renderings.
 *
 * microscope.c fills a report; report.c owns its memory and renders it as the JSON
 * contract of `vnetctl diagnose --json` (diag_report_to_json()) and as readable
 * text (diag_report_to_text()).  Only diag/ includes this header: other components
 * use the accessors of microscope.h.
 *
 * Ownership: every pointer in a report is owned by it and freed by
 * diag_report_destroy().  Thread-safety: a finished report is immutable. */
#ifndef DIAG_REPORT_H
#define DIAG_REPORT_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag/autofocus.h"
#include "diag/microscope.h"

/* A culprit's total.  FLOW stands for all source flows together ("source"). */
struct diag_report_culprit {
    enum diag_culprit_kind kind;
    uint32_t nf;
    double score;
    double share;               /* of the total score */
};

/* Evidence for one culprit: the victim where it scored most, with that victim's
 * queuing period and the input spread of its PreSet's largest path group. */
#define DIAG_REPORT_MAX_HOPS 16
struct diag_report_explanation {
    struct diag_report_culprit culprit;
    uint64_t uid;
    uint32_t nf;                /* where the victim was */
    bool dropped, service_time;
    double score;               /* the culprit's score for that victim */
    double q, q0, tau_ns, n_i, n_p, s_i, s_p;       /* S_i', S_p' after clamping */
    double r;                   /* peak rate used, packets/ns */
    double t_exp_ns;
    size_t n_hops;              /* 0 when the input was not propagated */
    uint32_t hop_nf[DIAG_REPORT_MAX_HOPS];          /* NF_SOURCE first */
    double hop_span_ns[DIAG_REPORT_MAX_HOPS];
    double hop_credit[DIAG_REPORT_MAX_HOPS];
};

struct diag_report_nf {
    char name[DIAG_NF_NAME_MAX];
    uint64_t packets, drops;
    uint64_t lat_p50_ns, lat_p99_ns;
    uint64_t victims;           /* found */
    uint64_t diagnosed;         /* of them */
    bool calibrated;
    bool estimated;             /* r from the online busy-window estimate */
    double r_pps;
    size_t busy_windows;
    double arrival_pps;         /* offered load over the window */
    double mean_local;          /* mean S_p'/Q over its queued victims */
    bool at_capacity;           /* the derived label of A.11 */
    struct diag_report_culprit *culprits;   /* blame for victims at this NF, every
                                             * kind, sorted by score */
    size_t n_culprits;
};

/* An AutoFocus line: for a source culprit, 'cluster' is the culprit traffic and
 * 'victims' its victim-side lines; for an NF culprit, 'cluster' is victim traffic. */
struct diag_report_pattern {
    enum diag_culprit_kind kind;        /* NF or FLOW */
    uint32_t nf;
    bool rest;                  /* the residual no reported cluster explains */
    struct autofocus_cluster cluster;
    double score;               /* residual score in packet units */
    struct diag_report_pattern *victims;
    size_t n_victims;
};

struct diag_report_relation {   /* (culprit, victim flow, victim NF, score) */
    struct diag_report_culprit culprit;
    struct flow5 vflow;
    uint32_t vnf;
    double score;
};

/* Victims and blame lists live in chunks, so that neither moves once written. */
struct diag_report_chunk {
    void *items;
    size_t n, cap;
};

struct diag_report {
    struct diag_report_chunk *victims;  /* of struct diag_victim, in order found */
    size_t n_victim_chunks, n_victims;
    double *weights;                    /* per victim: victims it stands for */
    size_t cap_weights;
    struct diag_report_chunk *blames;   /* of struct diag_blame */
    size_t n_blame_chunks;
    uint64_t victims_found;             /* including undiagnosed ones */
    uint64_t victim_packets;            /* distinct packets among them */
    double total_score;

    struct diag_report_culprit *culprits;   /* every kind, sorted by score */
    size_t n_culprits;

    struct diag_report_nf *nfs;         /* indexed by NF id; nfs[0] unused */
    size_t n_nfs;

    struct diag_report_pattern *patterns;   /* sorted by score */
    size_t n_patterns;

    struct diag_report_explanation *explanations;   /* for the top culprits */
    size_t n_explanations;

    struct diag_report_relation *relations; /* the heaviest, sorted */
    size_t n_relations;
};

/* Appends a diagnosed victim standing for 'weight' victims (sampling) and returns
 * it for the caller to fill. */
struct diag_victim *diag_report_add_victim(struct diag_report *, double weight);
/* Returns room for 'n' contiguous blame entries that stay where they are. */
struct diag_blame *diag_report_add_blames(struct diag_report *, size_t n);

#endif
