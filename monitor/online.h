/* online.h -- the monitor's live analysis of the packets it captures.
 *
 * The capture thread hands every captured packet to online_packet() with the NF
 * and direction of the port it came from, and calls online_advance() regularly
 * with the current time.  The analysis keeps per-NF figures (arrivals and
 * departures) for 'vnetctl monitor show'.
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

struct online *online_create(const struct agent_topology *);
void online_destroy(struct online *);

void online_packet(struct online *, size_t nf, bool arrivals, const struct capture_pkt *);
/* Processes everything captured before 'now_ns' (UINT64_MAX: everything). */
void online_advance(struct online *, uint64_t now_ns);

/* {"<nf>": {"arrivals", "departures", ...}, ...} */
struct json_object *online_stats_to_json(struct online *);

#endif
