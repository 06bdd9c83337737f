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
 * A window boundary cuts hops in two: a packet that arrived before it and left
 * after it is "in flight" for the first window and a warm-up departure for the
 * second (not counted against the match rate); queue lengths in the first
 * milliseconds of a window miss the packets queued before it.  The figures of the
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
    uint64_t holdback_ns;       /* merge delay for out-of-order copies (20 ms) */
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

/* {"<nf>": {"arrivals", "departures", "window": {...}, "recent_max": {...},
 *  "total": {...}, "bandwidth": {...}}, ...}: see online.c. */
struct json_object *online_stats_to_json(struct online *);

#endif
