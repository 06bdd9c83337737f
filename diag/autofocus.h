/* autofocus.h -- multi-dimensional hierarchical heavy hitters with compression
 * (AutoFocus; ../shared/specs/diagnosis.md, A.12).
 *
 * Records are flow 5-tuples with a weight (a Microscope score).  Each dimension
 * (source and destination address, source and destination port, protocol) has a
 * hierarchy of generalisation levels, most specific first and ending at its root
 * ("any"); a cluster picks one level per dimension plus the masked values.  Given a
 * threshold H, autofocus_run() finds every cluster of weight >= H, then visits them
 * from the most to the least specific and reports a cluster when the weight of its
 * records that no already-reported cluster inside it explains ("residual") still
 * reaches H.  With one dimension this is exactly the one-dimensional COMPRESS rule
 * of the spec: a node is reported when its weight minus that of its maximal reported
 * descendants is >= H.
 *
 * Ownership: autofocus_run() returns an array the caller frees.  Pure functions;
 * thread-safe. */
#ifndef DIAG_AUTOFOCUS_H
#define DIAG_AUTOFOCUS_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag/trace.h"

enum autofocus_dim {
    AUTOFOCUS_SRC,              /* levels: IPv4 prefix lengths */
    AUTOFOCUS_DST,
    AUTOFOCUS_SPORT,            /* levels: enum autofocus_port_level */
    AUTOFOCUS_DPORT,
    AUTOFOCUS_PROTO,            /* levels: enum autofocus_proto_level */
    AUTOFOCUS_DIMS
};

enum autofocus_port_level {
    AUTOFOCUS_PORT_EXACT,
    AUTOFOCUS_PORT_CLASS,       /* 0-1023 "low" or 1024-65535 "high" */
    AUTOFOCUS_PORT_ANY,
};

enum autofocus_proto_level {
    AUTOFOCUS_PROTO_EXACT,
    AUTOFOCUS_PROTO_ANY,
};

#define AUTOFOCUS_MAX_LEVELS 33

struct autofocus_hier {
    uint8_t n[AUTOFOCUS_DIMS];  /* levels per dimension (>= 1) */
    uint8_t level[AUTOFOCUS_DIMS][AUTOFOCUS_MAX_LEVELS];
};

/* The default hierarchies: /32 /24 /16 /8 /0; exact, low/high, any; exact, any
 * (5 * 5 * 3 * 3 * 2 = 450 level combinations). */
void autofocus_hier_default(struct autofocus_hier *);
/* One dimension 'dim' keeps its default levels; every other dimension has only its
 * root, which makes the run one-dimensional. */
void autofocus_hier_1d(struct autofocus_hier *, enum autofocus_dim dim);

struct autofocus_record {
    struct flow5 flow;
    double weight;
};

struct autofocus_cluster {
    struct flow5 key;           /* values masked to the levels */
    uint8_t level[AUTOFOCUS_DIMS];      /* level values (prefix length, port level...) */
    uint8_t depth;              /* levels below the roots, summed: its specificity */
    double weight;              /* of the records it contains */
    double residual;            /* not explained by reported clusters inside it */
};

/* Runs AutoFocus over 'n' records with threshold 'threshold' (> 0).  Returns the
 * number of reported clusters and stores them in '*ret' (caller frees), sorted by
 * descending residual, then by descending specificity. */
size_t autofocus_run(const struct autofocus_record *, size_t n,
                     const struct autofocus_hier *, double threshold,
                     struct autofocus_cluster **ret);

/* Does 'c' contain 'flow'? */
bool autofocus_contains(const struct autofocus_cluster *, const struct flow5 *flow);

/* Renderings of one dimension of 'c': "10.1.0.0/16"; the port range bounds; "tcp",
 * "udp", "icmp", a protocol number, or "*". */
void autofocus_format_ip(const struct autofocus_cluster *, enum autofocus_dim,
                         char *buf, size_t size);
void autofocus_port_range(const struct autofocus_cluster *, enum autofocus_dim,
                          uint16_t *lo, uint16_t *hi);
void autofocus_format_proto(const struct autofocus_cluster *, char *buf, size_t size);

/* The cluster that contains everything (every dimension at its root). */
void autofocus_root(struct autofocus_cluster *);

#endif
