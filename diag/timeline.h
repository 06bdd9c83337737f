/* timeline.h -- per-NF queue length and latency over time, from a trace.
 *
 * For the reports: the trace's window cut into buckets of 'bucket_ns'; for each NF
 * and bucket, the largest queue an arrival in the bucket found (packets that had
 * arrived and neither left nor been dropped) and the largest latency of a packet
 * that arrived in it.  Pure; thread-safe. */
#ifndef DIAG_TIMELINE_H
#define DIAG_TIMELINE_H 1

#include <stdint.h>

struct diag_trace;
struct json_object;

/* {"t0_ns", "bucket_us", "buckets", "nfs": {"<nf>": {"queue_max": [...],
 *  "latency_max_us": [...]}}}; at most 4096 buckets (the bucket grows if the
 * window needs it). */
struct json_object *diag_timeline_to_json(const struct diag_trace *, uint64_t bucket_ns);

#endif
