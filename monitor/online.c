#include "monitor/online.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "monitor/agent-topology.h"
#include "monitor/capture.h"

struct nf_counts {
    uint64_t arrivals, departures;
    uint64_t arrival_bytes, departure_bytes;
    uint64_t first_ns, last_ns;
};

struct online {
    const struct agent_topology *topo;
    struct nf_counts *nfs;
};

struct online *
online_create(const struct agent_topology *topo)
{
    struct online *o = vnet_xzalloc(sizeof *o);
    o->topo = topo;
    o->nfs = vnet_xcalloc(topo->n_nfs + 1, sizeof *o->nfs);
    return o;
}

void
online_destroy(struct online *o)
{
    if (o) {
        free(o->nfs);
        free(o);
    }
}

void
online_packet(struct online *o, size_t nf, bool arrivals, const struct capture_pkt *pkt)
{
    struct nf_counts *c = &o->nfs[nf];
    if (arrivals) {
        c->arrivals++;
        c->arrival_bytes += pkt->len;
    } else {
        c->departures++;
        c->departure_bytes += pkt->len;
    }
    if (!c->first_ns || pkt->ts_ns < c->first_ns) {
        c->first_ns = pkt->ts_ns;
    }
    if (pkt->ts_ns > c->last_ns) {
        c->last_ns = pkt->ts_ns;
    }
}

void
online_advance(struct online *o, uint64_t now_ns)
{
    (void) o;
    (void) now_ns;
}

struct json_object *
online_stats_to_json(struct online *o)
{
    struct json_object *obj = json_object_new_object();
    for (size_t i = 0; i < o->topo->n_nfs; i++) {
        if (!o->topo->nfs[i].mirrored) {
            continue;
        }
        const struct nf_counts *c = &o->nfs[i];
        struct json_object *n = json_object_new_object();
        json_object_object_add(n, "arrivals", json_object_new_int64((int64_t) c->arrivals));
        json_object_object_add(n, "departures",
                               json_object_new_int64((int64_t) c->departures));
        json_object_object_add(n, "arrival_bytes",
                               json_object_new_int64((int64_t) c->arrival_bytes));
        json_object_object_add(n, "departure_bytes",
                               json_object_new_int64((int64_t) c->departure_bytes));
        json_object_object_add(obj, o->topo->nfs[i].name, n);
    }
    return obj;
}
