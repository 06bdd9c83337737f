/* health.h -- which VNets are degraded, since when, and what changed lately.
 *
 * The runtime evaluates every VNet (a chain's production, monitoring and shadow
 * VNets) whenever what the adapters observe changes: health_begin(), one
 * health_report() per VNet with NULL (healthy) or the first problem found, then
 * health_end(), which forgets VNets no longer reported.  Every change of a VNet's
 * health is kept as an event (the last HEALTH_EVENTS), with its wall-clock time, so
 * 'status' shows an outage even after vnetd has already repaired it.
 *
 * Pure bookkeeping: no I/O.  Thread-safety: one thread. */
#ifndef VNETD_HEALTH_H
#define VNETD_HEALTH_H 1

#include <stdint.h>

struct json_object;

#define HEALTH_EVENTS 64

struct health;

struct health *health_create(void);
void health_destroy(struct health *);

void health_begin(struct health *);
/* 'problem' NULL: healthy.  'now_ms': wall-clock milliseconds since the epoch. */
void health_report(struct health *, const char *chain, const char *vnet,
                   const char *problem, int64_t now_ms);
/* Keeps (chain, vnet) as it is, unseen problems included (an operation on the
 * chain is in progress: its transient states are not outages). */
void health_keep(struct health *, const char *chain, const char *vnet);
void health_end(struct health *);

/* The problem currently reported for (chain, vnet), or NULL. */
const char *health_problem(const struct health *, const char *chain, const char *vnet);

/* {"vnets": [{"chain", "vnet", "state": "ok"|"degraded", "problem", "since_ms"}],
 *  "events": [{"time_ms", "chain", "vnet", "state", "problem"}] (oldest first)} */
struct json_object *health_to_json(const struct health *);

#endif
