/* sink-stats.h -- what vnet-sink measures: per-flow counts, loss, duplicates,
 * reordering, one-way latency percentiles and RFC 3550 jitter.
 *
 * Building blocks, each usable (and tested) alone:
 *   sink_hist   log-linear latency histogram: exact below 64 ns, then 32 buckets per
 *               power of two (<= 3.1% relative error), up to ~2^41 ns; the exact
 *               minimum and maximum are kept besides.
 *   sink_seq    sequence tracking: a packet above the highest sequence seen advances
 *               it; one below it is a duplicate if already seen (within a window of
 *               SINK_SEQ_WINDOW sequence numbers) or else a reordered arrival.
 *               expected = highest - lowest + 1, lost = expected - unique received
 *               (so a packet still in flight at the end counts as lost).
 *   sink_jitter RFC 3550 interarrival jitter: J += (|D| - J) / 16 with
 *               D = (R_i - R_{i-1}) - (S_i - S_{i-1}), in arrival order.
 *
 * 'struct sink_stats' puts them together per flow (5-tuple, hash table): each frame
 * given to sink_stats_frame() is parsed, filtered (destination address, destination
 * ports), its checksums verified, and its payload decoded as a sequence stamp or an
 * RTP packet (payload.h).  Latency = receive time - send time, both CLOCK_MONOTONIC
 * of this host.  Receive times also bin the traffic into fixed intervals (aggregate
 * latency percentiles per interval), so a short event shows even in a long run.
 *
 * Ownership: the stats own their flows; sink_stats_to_json() returns a new object.
 * Thread-safety: one thread per 'struct sink_stats'. */
#ifndef VNET_EXAMPLES_SINK_STATS_H
#define VNET_EXAMPLES_SINK_STATS_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

/* Histogram. */
#define SINK_HIST_BUCKETS (64 + 36 * 32)

struct sink_hist {
    uint64_t n;
    uint64_t min, max;
    double sum;
    uint32_t counts[SINK_HIST_BUCKETS];
};

void sink_hist_init(struct sink_hist *);
void sink_hist_add(struct sink_hist *, uint64_t value);
/* Value at percentile 'p' (0..100): the representative of the bucket holding the
 * ceil(p/100 * n)-th smallest sample, clamped to [min, max].  0 if empty. */
uint64_t sink_hist_percentile(const struct sink_hist *, double p);

/* Sequence numbers. */
#define SINK_SEQ_WINDOW 16384u
#define SINK_GAPS 32                /* gaps in a numbered flow reported with times */

struct sink_seq {
    bool started;
    uint64_t lowest, highest;
    uint64_t received;              /* unique sequence numbers */
    uint64_t duplicates;
    uint64_t reordered;
    uint64_t *window;               /* SINK_SEQ_WINDOW bits, allocated on first use */
};

enum sink_seq_result { SINK_SEQ_NEW, SINK_SEQ_REORDERED, SINK_SEQ_DUPLICATE };

enum sink_seq_result sink_seq_add(struct sink_seq *, uint64_t seq);
uint64_t sink_seq_expected(const struct sink_seq *);
uint64_t sink_seq_lost(const struct sink_seq *);
void sink_seq_destroy(struct sink_seq *);

/* Extends a 16-bit RTP sequence number to 64 bits next to the highest seen so far
 * (wrap-around aware, RFC 3550 A.1 in spirit). */
uint64_t sink_seq_extend16(const struct sink_seq *, uint16_t seq);

/* Jitter. */
struct sink_jitter {
    bool started;
    int64_t prev_r, prev_s;         /* ns */
    double j;                       /* ns */
};

/* Adds a packet received at 'r_ns' that was sent (or timestamped) at 's_ns'. */
void sink_jitter_add(struct sink_jitter *, int64_t r_ns, int64_t s_ns);

/* Whole sink. */
struct sink_filter {
    bool has_dst;
    uint32_t dst;                   /* host byte order */
    uint16_t dport_lo, dport_hi;    /* 0..65535 when unset */
    uint16_t rtp_port_lo, rtp_port_hi;  /* UDP destination ports decoded as RTP even
                                         * without the send-time extension */
};

struct sink_stats;

/* 'interval_ns' (0 = no series) bins packets by receive time from 't0_ns'. */
struct sink_stats *sink_stats_create(const struct sink_filter *, uint64_t interval_ns,
                                     uint64_t t0_ns);
void sink_stats_destroy(struct sink_stats *);

/* Accounts one frame received at 't_rx_ns' (CLOCK_MONOTONIC).  'csum_valid' says
 * whether its checksums can be checked (false for frames whose checksum the sending
 * host left to an offload, TP_STATUS_CSUMNOTREADY). */
void sink_stats_frame(struct sink_stats *, const uint8_t *frame, size_t len,
                      uint64_t t_rx_ns, bool csum_valid);

/* Number of frames accounted to a flow so far. */
uint64_t sink_stats_packets(const struct sink_stats *);

/* The summary at 'now_ns': {"duration_s", "rx", "flows": [...], "latency_us",
 * "intervals": [...], ...}.  Flows are listed in order of first arrival, at most
 * 'max_flows' of them ("flows_omitted" counts the rest). */
struct json_object *sink_stats_to_json(struct sink_stats *, uint64_t now_ns,
                                       size_t max_flows);

#endif
