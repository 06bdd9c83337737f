/* offline.h -- an offline trace directory to a 'struct diag_trace'.
 *
 * `vnetctl diagnose --offline DIR` reads DIR/topology.json (topology.h) and the
 * pcap/pcapng files it names, merges all captures in time order (at equal times,
 * upstream NFs first, and an NF's arrivals before its departures), feeds them to
 * the hop matcher (match.h) and returns the trace the diagnosers read.  Capture
 * files are streamed: memory is the matcher's in-flight state plus the trace.
 *
 * Bad input is an error naming the file and the problem: a missing or malformed
 * topology.json (with the JSON path), a missing capture file, one that is not a
 * capture, of another link type than Ethernet, truncated or corrupt, or an NF whose
 * input capture holds no packet.
 *
 * Ownership: the caller destroys the returned trace (diag_trace_destroy()) and
 * summary (offline_summary_destroy()).  Thread-safety: none needed (no globals). */
#ifndef DIAG_OFFLINE_H
#define DIAG_OFFLINE_H 1

#include <stddef.h>
#include <stdint.h>

#include "diag/match.h"
#include "diag/pcap-input.h"

struct diag_trace;
struct json_object;
struct vnet_error;

/* What was read and how well it matched, per NF (index = NF id, 0 unused). */
struct offline_nf_summary {
    char name[DIAG_NF_NAME_MAX];
    enum match_class cls;
    struct match_stats match;
    struct pcap_input_stats in, out;
};

struct offline_summary {
    char *dir;
    struct offline_nf_summary *nfs;
    size_t n_nfs;
    uint64_t frames;            /* captured frames read, all files */
    uint64_t n_pkts, n_hops;    /* in the trace */
    uint64_t t_start, t_end;
};

/* Loads DIR with the default matcher configuration. */
struct vnet_error *offline_load(const char *dir, struct diag_trace **ret);

/* Loads DIR with matcher configuration 'cfg' (NULL: defaults).  On success also
 * returns a summary in '*ret_summary' if that is not NULL. */
struct vnet_error *offline_load_with(const char *dir, const struct match_config *cfg,
                                     struct diag_trace **ret,
                                     struct offline_summary **ret_summary);

/* {"dir", "frames", "packets", "hops", "window_s", "nfs": {"<nf>": {"class", "in",
 *  "out", "matched", "match_rate", "matched_by_mapping", "unmatched_out",
 *  "warmup_out", "orphan_in", "skipped", "reordered", "in_flight", "drops":
 *  {"tail", "internal", "consumed", "by_fifo", "by_timeout"}, "timeout_ms",
 *  "snapped", "timestamps_raised"}}} */
struct json_object *offline_summary_to_json(const struct offline_summary *);
/* The same as a readable table (caller frees). */
char *offline_summary_to_text(const struct offline_summary *);

void offline_summary_destroy(struct offline_summary *);

#endif
