#include "monitor/agent-topology.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "lib/names.h"
#include "lib/util.h"

int
agent_topology_find_nf(const struct agent_topology *t, const char *name)
{
    for (size_t i = 0; i < t->n_nfs; i++) {
        if (!strcmp(t->nfs[i].name, name)) {
            return (int) i;
        }
    }
    return -1;
}

char *
agent_topology_add_nf(struct agent_topology *t, const char *spec)
{
    char *copy = vnet_xstrdup(spec), *save = NULL, *error = NULL;
    char *eq = strchr(copy, '=');
    if (!eq) {
        free(copy);
        return vnet_xasprintf("--nf '%s': expected NAME=PEAK_PPS[,qcap=N][,type=T]",
                              spec);
    }
    *eq = '\0';
    struct agent_nf nf = { .name = copy };
    if (!vnet_name_valid(copy) || agent_topology_find_nf(t, copy) >= 0) {
        error = vnet_xasprintf("--nf '%s': bad or duplicate NF name", spec);
    }
    unsigned long long v;
    char *item = strtok_r(eq + 1, ",", &save);
    if (!error && (!item || vnet_parse_uint(item, 0, 100000000, &v))) {
        error = vnet_xasprintf("--nf '%s': expected a peak rate in packets/s", spec);
    }
    nf.peak_pps = error ? 0 : v;
    while (!error && (item = strtok_r(NULL, ",", &save))) {
        if (!strncmp(item, "qcap=", 5) && !vnet_parse_uint(item + 5, 0, 1 << 20, &v)) {
            nf.qcap = (uint32_t) v;
        } else if (!strncmp(item, "type=", 5) && vnet_name_valid(item + 5)) {
            free(nf.type);
            nf.type = vnet_xstrdup(item + 5);
        } else {
            error = vnet_xasprintf("--nf '%s': unknown item '%s' (qcap=N or type=T)",
                                   spec, item);
        }
    }
    if (error) {
        free(nf.type);
        free(copy);
        return error;
    }
    nf.name = vnet_xstrdup(copy);
    if (!nf.type) {
        nf.type = vnet_xstrdup("forward");
    }
    free(copy);
    t->nfs = vnet_xrealloc(t->nfs, (t->n_nfs + 1) * sizeof *t->nfs);
    t->nfs[t->n_nfs++] = nf;
    return NULL;
}

static bool
endpoint_ok(const struct agent_topology *t, const char *name)
{
    return !strcmp(name, "ingress") || !strcmp(name, "egress")
           || agent_topology_find_nf(t, name) >= 0;
}

char *
agent_topology_add_edge(struct agent_topology *t, const char *spec)
{
    const char *colon = strchr(spec, ':');
    if (!colon) {
        return vnet_xasprintf("--edge '%s': expected FROM:TO", spec);
    }
    char *from = vnet_xstrndup(spec, (size_t) (colon - spec));
    char *to = vnet_xstrdup(colon + 1);
    if (!endpoint_ok(t, from) || !endpoint_ok(t, to)) {
        char *error = vnet_xasprintf("--edge '%s': unknown endpoint (give the --nf "
                                     "options first)", spec);
        free(from);
        free(to);
        return error;
    }
    t->edge_from = vnet_xrealloc(t->edge_from, (t->n_edges + 1) * sizeof *t->edge_from);
    t->edge_to = vnet_xrealloc(t->edge_to, (t->n_edges + 1) * sizeof *t->edge_to);
    t->edge_from[t->n_edges] = from;
    t->edge_to[t->n_edges++] = to;
    return NULL;
}

char *
agent_topology_add_port(struct agent_topology *t, const char *spec)
{
    const char *eq = strrchr(spec, '=');
    if (eq && eq[1] == '@') {
        const char *what = eq + 2;
        if (strcmp(what, "ingress") && strcmp(what, "exit0") && strcmp(what, "exit1")) {
            return vnet_xasprintf("--port '%s': expected @ingress, @exit0 or @exit1",
                                  spec);
        }
        struct agent_port p = {
            .source = vnet_xstrndup(spec, (size_t) (eq - spec)),
            .special = vnet_xstrdup(what),
        };
        t->ports = vnet_xrealloc(t->ports, (t->n_ports + 1) * sizeof *t->ports);
        t->ports[t->n_ports++] = p;
        return NULL;
    }
    const char *colon = eq ? strrchr(eq, ':') : NULL;
    if (!eq || !colon || eq == spec
        || (strcmp(colon + 1, "in") && strcmp(colon + 1, "out"))) {
        return vnet_xasprintf("--port '%s': expected SOURCE=NF:in or SOURCE=NF:out",
                              spec);
    }
    struct agent_port p = {
        .source = vnet_xstrndup(spec, (size_t) (eq - spec)),
        .nf = vnet_xstrndup(eq + 1, (size_t) (colon - eq - 1)),
        .arrivals = !strcmp(colon + 1, "in"),
    };
    t->ports = vnet_xrealloc(t->ports, (t->n_ports + 1) * sizeof *t->ports);
    t->ports[t->n_ports++] = p;
    return NULL;
}

char *
agent_topology_finish(struct agent_topology *t)
{
    if (!t->n_ports) {
        return vnet_xstrdup("no --port given: nothing to capture");
    }
    for (size_t i = 0; i < t->n_ports; i++) {
        if (t->ports[i].special) {
            continue;
        }
        int nf = agent_topology_find_nf(t, t->ports[i].nf);
        if (nf < 0) {
            return vnet_xasprintf("--port '%s=%s': no --nf named '%s'",
                                  t->ports[i].source, t->ports[i].nf, t->ports[i].nf);
        }
        t->nfs[nf].mirrored = true;
    }
    for (size_t i = 0; i < t->n_nfs; i++) {
        bool in = false, out = false;
        for (size_t k = 0; k < t->n_ports; k++) {
            if (t->ports[k].nf && !strcmp(t->ports[k].nf, t->nfs[i].name)) {
                in |= t->ports[k].arrivals;
                out |= !t->ports[k].arrivals;
            }
        }
        if (t->nfs[i].mirrored && !(in && out)) {
            return vnet_xasprintf("NF '%s' needs both an :in and an :out port",
                                  t->nfs[i].name);
        }
    }
    return NULL;
}

/* Adds to 'edges' an edge from 'from' to every mirrored NF (or egress) reachable
 * from 'node' through unmirrored NFs only. */
static void
contract(const struct agent_topology *t, const char *from, const char *node,
         struct json_object *edges, int depth)
{
    for (size_t e = 0; e < t->n_edges && depth < 64; e++) {
        if (strcmp(t->edge_from[e], node)) {
            continue;
        }
        const char *to = t->edge_to[e];
        int nf = agent_topology_find_nf(t, to);
        if (nf >= 0 && !t->nfs[nf].mirrored) {
            contract(t, from, to, edges, depth + 1);
            continue;
        }
        bool dup = false;
        for (size_t k = 0; k < json_object_array_length(edges); k++) {
            struct json_object *pair = json_object_array_get_idx(edges, k);
            dup |= !strcmp(json_object_get_string(json_object_array_get_idx(pair, 0)),
                           from)
                   && !strcmp(json_object_get_string(json_object_array_get_idx(pair, 1)),
                              to);
        }
        if (!dup) {
            struct json_object *pair = json_object_new_array();
            json_object_array_add(pair, json_object_new_string(from));
            json_object_array_add(pair, json_object_new_string(to));
            json_object_array_add(edges, pair);
        }
    }
}

struct json_object *
agent_topology_to_json(const struct agent_topology *t)
{
    struct json_object *obj = json_object_new_object();
    struct json_object *nfs = json_object_new_array();
    struct json_object *captures = json_object_new_object();
    for (size_t i = 0; i < t->n_nfs; i++) {
        const struct agent_nf *nf = &t->nfs[i];
        if (!nf->mirrored) {
            continue;
        }
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(nf->name));
        if (nf->peak_pps) {
            json_object_object_add(o, "peak_pps",
                                   json_object_new_int64((int64_t) nf->peak_pps));
        }
        if (nf->qcap) {
            json_object_object_add(o, "qcap", json_object_new_int((int) nf->qcap));
        }
        json_object_object_add(o, "type", json_object_new_string(nf->type));
        json_object_array_add(nfs, o);
        struct json_object *c = json_object_new_object();
        char *in = vnet_xasprintf("%s.in.pcap", nf->name);
        char *out = vnet_xasprintf("%s.out.pcap", nf->name);
        json_object_object_add(c, "in", json_object_new_string(in));
        json_object_object_add(c, "out", json_object_new_string(out));
        free(in);
        free(out);
        json_object_object_add(captures, nf->name, c);
    }
    struct json_object *edges = json_object_new_array();
    contract(t, "ingress", "ingress", edges, 0);
    for (size_t i = 0; i < t->n_nfs; i++) {
        if (t->nfs[i].mirrored) {
            contract(t, t->nfs[i].name, t->nfs[i].name, edges, 0);
        }
    }
    json_object_object_add(obj, "nfs", nfs);
    json_object_object_add(obj, "edges", edges);
    json_object_object_add(obj, "captures", captures);
    return obj;
}

void
agent_topology_destroy(struct agent_topology *t)
{
    for (size_t i = 0; i < t->n_nfs; i++) {
        free(t->nfs[i].name);
        free(t->nfs[i].type);
    }
    free(t->nfs);
    for (size_t i = 0; i < t->n_edges; i++) {
        free(t->edge_from[i]);
        free(t->edge_to[i]);
    }
    free(t->edge_from);
    free(t->edge_to);
    for (size_t i = 0; i < t->n_ports; i++) {
        free(t->ports[i].source);
        free(t->ports[i].nf);
        free(t->ports[i].special);
    }
    free(t->ports);
    memset(t, 0, sizeof *t);
}
