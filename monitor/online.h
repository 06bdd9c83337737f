/* online.h -- the monitor's live analysis of the packets it captures.
 *
 * The capture thread hands every captured packet to online_packet() with the NF
 * and direction of the port it came from, and calls online_advance() regularly
 * with the current time.  Packets are held back for 'holdback' (copies from
 * different capture rings reach the agent slightly out of order), merged in time
 * order (at equal times in match_tie_rank() order) and fed to the hop matcher
 * (diag/match.h), one matcher per analysis window.  When a window closes, its trace
 * is reduced to per-NF figures:
 *
 *   - arrivals, departures, matched departures and the match rate, unmatched and
 *     warm-up departures, drops by class (tail, internal, policy = consumed);
 *   - latency p50/p99/max over the NF's forwarded hops (t_dep - t_arr);
 *   - queue length p50/p99/max as seen by each arrival (packets that arrived and
 *     had not yet left or been dropped);
 *   - bandwidth of arrivals at 1 ms, 10 ms, 100 ms and 1 s (mean and peak, EXPB of
 *     spec part D, over the agent's lifetime).
 *
 * Each window's matcher also sees 'overlap' before and after the window, and the
 * figures are those of the hops that arrived in the window: a packet that stalls
 * across a boundary (for less than 'overlap') is matched where it arrived, and the
 * queue a window's first arrivals see includes what arrived before.  This costs
 * matching the overlap twice (40 % more work with the defaults).  Unmatched and
 * warm-up departures are counted over everything a window's matcher saw.  The figures of the
 * last 'keep' windows are kept; 'vnetctl monitor show' reads the latest complete
 * one and the maxima over all kept ones.
 *
 * Thread-safety: the caller serialises every call (the agent holds its mutex). */
#ifndef MONITOR_ONLINE_H
#define MONITOR_ONLINE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agent_topology;
struct capture_pkt;
struct json_object;
struct online;

struct online_config {
    uint64_t window_ns;         /* analysis window (default 1 s) */
    uint64_t holdback_ns;       /* merge delay for out-of-order copies (250 ms:
                                 * a loaded host retires capture blocks late) */
    uint64_t overlap_ns;        /* each window's matcher also sees this much before
                                 * and after it (200 ms) */
    size_t keep;                /* windows of figures kept (10) */
};
void online_config_init(struct online_config *);

/* Returns NULL and '*ret', or a message (caller frees) if the topology cannot be
 * analysed. */
char *online_create(const struct agent_topology *, const struct online_config *,
                    struct online **ret);
void online_destroy(struct online *);

void online_packet(struct online *, size_t nf, bool arrivals, const struct capture_pkt *);
/* Processes everything captured before 'now_ns' - holdback (UINT64_MAX:
 * everything, and closes the current window). */
void online_advance(struct online *, uint64_t now_ns);

/* Windows closed so far. */
uint64_t online_windows(const struct online *);

/* Frames captured before the analysis started (see decide_start() in online.c:
 * it waits until every capture has begun). */
uint64_t online_frames_before_start(const struct online *);

/* {"<nf>": {"arrivals", "departures", "window": {...}, "recent_max": {...},
 *  "total": {...}, "bandwidth": {...}}, ...}: see online.c. */
struct json_object *online_stats_to_json(struct online *);

/* The figures of each kept window, oldest first (see online.c). */
struct json_object *online_timeline_to_json(struct online *);

#endif
