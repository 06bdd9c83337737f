#include "diag/topology.h"

#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/error.h"
#include "lib/jsonv.h"
#include "lib/names.h"
#include "lib/util.h"

#define TOPOLOGY_MAX_BYTES (1024 * 1024)
#define TOPOLOGY_MAX_RULES 256
#define TOPOLOGY_MAX_QCAP (1 << 24)
#define TOPOLOGY_MAX_PPS 1e9

void
topology_destroy(struct topology *t)
{
    if (!t) {
        return;
    }
    for (size_t i = 0; i < t->n_nfs; i++) {
        struct topology_nf *nf = &t->nfs[i];
        free(nf->name);
        free(nf->type);
        free(nf->preds);
        free(nf->succs);
        free(nf->rules);
        free(nf->in_path);
        free(nf->out_path);
        free(nf->in_file);
        free(nf->out_file);
    }
    free(t->nfs);
    free(t->order);
    free(t->dir);
    free(t);
}

int
topology_find_nf(const struct topology *t, const char *name)
{
    for (size_t i = 1; i < t->n_nfs; i++) {
        if (t->nfs[i].name && !strcmp(t->nfs[i].name, name)) {
            return (int) i;
        }
    }
    return -1;
}

/* ---- NFs ------------------------------------------------------------------------- */

static const struct {
    const char *name;
    enum match_class cls;
} type_classes[] = {
    { "nat", MATCH_NAT }, { "napt", MATCH_NAT }, { "snat", MATCH_NAT },
    { "dnat", MATCH_NAT }, { "masquerade", MATCH_NAT },
    { "vpn", MATCH_KEYLESS }, { "ipsec", MATCH_KEYLESS },
    { "wireguard", MATCH_KEYLESS }, { "tunnel", MATCH_KEYLESS },
    { "encap", MATCH_KEYLESS },
};

static const char *const class_names[] = {
    [MATCH_CONTENT] = "forward", [MATCH_NAT] = "nat", [MATCH_KEYLESS] = "vpn",
};

static bool
parse_ipv4_prefix(const char *s, uint32_t *addr, uint32_t *mask)
{
    char buf[INET_ADDRSTRLEN];
    const char *slash = strchr(s, '/');
    size_t len = slash ? (size_t) (slash - s) : strlen(s);
    unsigned long long plen = 32;
    struct in_addr in;
    if (len >= sizeof buf
        || (slash && vnet_parse_uint(slash + 1, 0, 32, &plen))) {
        return false;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, &in) != 1) {
        return false;
    }
    *mask = plen ? ~0u << (32 - plen) : 0;
    *addr = ntohl(in.s_addr) & *mask;
    return true;
}

static struct vnet_error *
parse_ports(struct json_object *rule, const struct jpath *path, const char *key,
            uint16_t *lo, uint16_t *hi)
{
    struct json_object *v = NULL;
    struct vnet_error *error = jv_get_member(rule, path, key, false, &v);
    if (error || !v) {
        return error;
    }
    struct jpath p = JPATH_KEY(path, key);
    unsigned long long a, b;
    if (json_object_is_type(v, json_type_int)) {
        int64_t n = json_object_get_int64(v);
        if (n >= 1 && n <= 65535) {
            *lo = *hi = (uint16_t) n;
            return NULL;
        }
    } else if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        const char *dash = strchr(s, '-');
        if (dash && dash - s < 8) {
            char first[8];
            memcpy(first, s, (size_t) (dash - s));
            first[dash - s] = '\0';
            if (!vnet_parse_uint(first, 0, 65535, &a)
                && !vnet_parse_uint(dash + 1, 1, 65535, &b) && a <= b) {
                *lo = (uint16_t) a;
                *hi = (uint16_t) b;
                return NULL;
            }
        }
    }
    return jv_error_expected(&p, "a port 1..65535 or a range \"lo-hi\"", v);
}

static struct vnet_error *
parse_rule(struct json_object *obj, const struct jpath *path, struct match_rule *r)
{
    static const char *const fields[] = { "proto", "src", "dst", "sport", "dport",
                                          NULL };
    struct vnet_error *error = jv_check_object(obj, path, fields);
    if (error) {
        return error;
    }
    *r = (struct match_rule) { .proto = 0 };
    struct json_object *proto = NULL;
    if ((error = jv_get_member(obj, path, "proto", false, &proto))) {
        return error;
    }
    if (proto) {
        struct jpath p = JPATH_KEY(path, "proto");
        static const char *const names[] = { "icmp", "tcp", "udp" };
        static const uint8_t numbers[] = { 1, 6, 17 };
        bool ok = false;
        if (json_object_is_type(proto, json_type_string)) {
            for (size_t i = 0; i < VNET_ARRAY_SIZE(names) && !ok; i++) {
                if (!strcmp(json_object_get_string(proto), names[i])) {
                    r->proto = numbers[i];
                    ok = true;
                }
            }
        } else if (json_object_is_type(proto, json_type_int)) {
            int64_t n = json_object_get_int64(proto);
            if (n >= 0 && n <= 255) {
                r->proto = (uint8_t) n;
                ok = true;
            }
        }
        if (!ok) {
            return jv_error_expected(&p, "\"tcp\", \"udp\", \"icmp\" or 0..255", proto);
        }
    }
    const char *keys[2] = { "src", "dst" };
    uint32_t *addrs[2] = { &r->src, &r->dst };
    uint32_t *masks[2] = { &r->src_mask, &r->dst_mask };
    for (int i = 0; i < 2; i++) {
        const char *s = NULL;
        if ((error = jv_get_string(obj, path, keys[i], false, &s))) {
            return error;
        }
        if (s && !parse_ipv4_prefix(s, addrs[i], masks[i])) {
            struct jpath p = JPATH_KEY(path, keys[i]);
            return jv_error_expected(&p, "an IPv4 address or prefix a.b.c.d[/len]",
                                     json_object_object_get(obj, keys[i]));
        }
    }
    if ((error = parse_ports(obj, path, "sport", &r->sport_lo, &r->sport_hi))
        || (error = parse_ports(obj, path, "dport", &r->dport_lo, &r->dport_hi))) {
        return error;
    }
    return NULL;
}

static struct vnet_error *
parse_nf(struct json_object *obj, const struct jpath *path, struct topology *t,
         size_t id)
{
    static const char *const fields[] = { "name", "peak_pps", "qcap", "type", "class",
                                          "fifo", "policy_drops", NULL };
    static const char *const reserved[] = { "ingress", "egress", "source" };
    struct topology_nf *nf = &t->nfs[id];
    const char *name, *type = NULL, *cls = NULL;
    int64_t qcap = 0;
    bool fifo = true;
    struct json_object *peak = NULL, *rules = NULL;
    struct vnet_error *error;
    if ((error = jv_check_object(obj, path, fields))
        || (error = jv_get_name(obj, path, "name", true, &name))
        || (error = jv_get_member(obj, path, "peak_pps", false, &peak))
        || (error = jv_get_int(obj, path, "qcap", false, 1, TOPOLOGY_MAX_QCAP, &qcap))
        || (error = jv_get_name(obj, path, "type", false, &type))
        || (error = jv_get_string(obj, path, "class", false, &cls))
        || (error = jv_get_bool(obj, path, "fifo", false, &fifo))
        || (error = jv_get_array(obj, path, "policy_drops", false, 0,
                                 TOPOLOGY_MAX_RULES, &rules))) {
        return error;
    }
    struct jpath p_name = JPATH_KEY(path, "name");
    for (size_t i = 0; i < VNET_ARRAY_SIZE(reserved); i++) {
        if (!strcmp(name, reserved[i])) {
            return jv_error(&p_name, "\"%s\" is reserved (the graph's endpoints are "
                            "\"ingress\" and \"egress\"); expected another NF name",
                            name);
        }
    }
    int dup = topology_find_nf(t, name);
    if (dup > 0) {
        return jv_error(&p_name, "duplicate NF name \"%s\" (also $.nfs[%d])", name,
                        dup - 1);
    }
    if (peak) {
        struct jpath p = JPATH_KEY(path, "peak_pps");
        bool numeric = (json_object_is_type(peak, json_type_int)
                        || json_object_is_type(peak, json_type_double));
        double v = numeric ? json_object_get_double(peak) : 0;
        if (!numeric || !isfinite(v) || v < 1 || v > TOPOLOGY_MAX_PPS) {
            return jv_error_expected(&p, "a peak rate in packets/s, 1..1e9", peak);
        }
        nf->peak_pps = (uint64_t) llround(v);
    }
    nf->cls = MATCH_CONTENT;
    if (type) {
        for (size_t i = 0; i < VNET_ARRAY_SIZE(type_classes); i++) {
            if (!strcmp(type, type_classes[i].name)) {
                nf->cls = type_classes[i].cls;
            }
        }
    }
    if (cls) {
        size_t i;
        for (i = 0; i < VNET_ARRAY_SIZE(class_names); i++) {
            if (!strcmp(cls, class_names[i])) {
                nf->cls = (enum match_class) i;
                break;
            }
        }
        if (i == VNET_ARRAY_SIZE(class_names)) {
            struct jpath p = JPATH_KEY(path, "class");
            return jv_error_expected(&p, "\"forward\", \"nat\" or \"vpn\"",
                                     json_object_object_get(obj, "class"));
        }
    }
    if (rules) {
        struct jpath p_rules = JPATH_KEY(path, "policy_drops");
        size_t n = json_object_array_length(rules);
        nf->rules = vnet_xcalloc(VNET_MAX(n, (size_t) 1), sizeof *nf->rules);
        for (size_t i = 0; i < n; i++) {
            struct jpath p = JPATH_INDEX(&p_rules, i);
            if ((error = parse_rule(json_object_array_get_idx(rules, i), &p,
                                    &nf->rules[i]))) {
                return error;
            }
            nf->n_rules++;
        }
    }
    nf->name = vnet_xstrdup(name);
    nf->type = vnet_xstrdup(type ? type : class_names[nf->cls]);
    nf->qcap = (uint32_t) qcap;
    nf->fifo = fifo;
    return NULL;
}

static void
intern_types(struct topology *t)
{
    for (size_t i = 1; i < t->n_nfs; i++) {
        t->nfs[i].type_id = 0;
        for (size_t j = 1; j < i && !t->nfs[i].type_id; j++) {
            if (!strcmp(t->nfs[i].type, t->nfs[j].type)) {
                t->nfs[i].type_id = t->nfs[j].type_id;
            }
        }
        if (!t->nfs[i].type_id) {
            uint32_t max = 0;
            for (size_t j = 1; j < i; j++) {
                max = VNET_MAX(max, t->nfs[j].type_id);
            }
            t->nfs[i].type_id = max + 1;
        }
    }
}

/* ---- Edges ----------------------------------------------------------------------- */

struct edge {
    uint32_t from, to;          /* NF ids; NF_SOURCE / NF_EGRESS for the ends */
};

static struct vnet_error *
resolve_endpoint(const struct topology *t, struct json_object *v,
                 const struct jpath *path, uint32_t *ret)
{
    if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        int id;
        if (!strcmp(s, "ingress")) {
            *ret = NF_SOURCE;
            return NULL;
        }
        if (!strcmp(s, "egress")) {
            *ret = NF_EGRESS;
            return NULL;
        }
        if ((id = topology_find_nf(t, s)) > 0) {
            *ret = (uint32_t) id;
            return NULL;
        }
    }
    return jv_error_expected(path, "\"ingress\", \"egress\" or an NF name from $.nfs",
                             v);
}

static const char *
endpoint_name(const struct topology *t, uint32_t id)
{
    return id == NF_SOURCE ? "ingress" : id == NF_EGRESS ? "egress" : t->nfs[id].name;
}

static struct vnet_error *
parse_edges(struct json_object *root_obj, const struct jpath *root, struct topology *t,
            struct edge **ret_edges, size_t *ret_n)
{
    struct json_object *edges;
    size_t max = (t->n_nfs + 1) * (t->n_nfs + 1);
    struct vnet_error *error = jv_get_array(root_obj, root, "edges", true, 1, max,
                                            &edges);
    if (error) {
        return error;
    }
    struct jpath p_edges = JPATH_KEY(root, "edges");
    size_t n = json_object_array_length(edges);
    struct edge *e = vnet_xcalloc(n, sizeof *e);
    for (size_t i = 0; i < n; i++) {
        struct jpath p = JPATH_INDEX(&p_edges, i);
        struct json_object *pair = json_object_array_get_idx(edges, i);
        if (!json_object_is_type(pair, json_type_array)
            || json_object_array_length(pair) != 2) {
            error = jv_error_expected(&p, "a pair [\"from\", \"to\"]", pair);
            goto fail;
        }
        struct jpath p_from = JPATH_INDEX(&p, 0), p_to = JPATH_INDEX(&p, 1);
        if ((error = resolve_endpoint(t, json_object_array_get_idx(pair, 0), &p_from,
                                      &e[i].from))
            || (error = resolve_endpoint(t, json_object_array_get_idx(pair, 1), &p_to,
                                         &e[i].to))) {
            goto fail;
        }
        if (e[i].from == NF_EGRESS) {
            error = jv_error(&p_from, "\"egress\" cannot start an edge");
        } else if (e[i].to == NF_SOURCE) {
            error = jv_error(&p_to, "\"ingress\" cannot end an edge");
        } else if (e[i].from == e[i].to) {
            error = jv_error(&p, "an edge from \"%s\" to itself makes a cycle",
                             endpoint_name(t, e[i].from));
        }
        /* ingress -> egress is allowed: traffic that bypasses every captured NF
         * (vnet-monitor writes it when it contracts unmirrored NFs away). */
        for (size_t j = 0; j < i && !error; j++) {
            if (e[j].from == e[i].from && e[j].to == e[i].to) {
                error = jv_error(&p, "duplicate of $.edges[%zu]", j);
            }
        }
        if (error) {
            goto fail;
        }
    }
    *ret_edges = e;
    *ret_n = n;
    return NULL;

fail:
    free(e);
    return error;
}

static void
add_id(uint32_t **ids, size_t *n, uint32_t id)
{
    *ids = vnet_xrealloc(*ids, (*n + 1) * sizeof **ids);
    (*ids)[(*n)++] = id;
}

/* Describes a cycle among the NFs not in 'done' ("a -> b -> a"); caller frees. */
static char *
describe_cycle(const struct topology *t, const struct edge *e, size_t n_edges,
               const bool *done)
{
    size_t n = t->n_nfs;
    uint32_t *seen_at = vnet_xcalloc(n, sizeof *seen_at);
    uint32_t *walk = vnet_xcalloc(n + 1, sizeof *walk);
    uint32_t v = 1;
    while (v < n && done[v]) {
        v++;
    }
    /* Every remaining NF has a remaining predecessor: walk backwards until an NF
     * repeats. */
    size_t len = 0;
    while (!seen_at[v]) {
        walk[len++] = v;
        seen_at[v] = (uint32_t) len;
        for (size_t k = 0; k < n_edges; k++) {
            if (e[k].to == v && e[k].from != NF_SOURCE && !done[e[k].from]) {
                v = e[k].from;
                break;
            }
        }
    }
    /* walk[seen_at[v] - 1 .. len) is the cycle, backwards. */
    char *s = vnet_xstrdup(t->nfs[v].name);
    for (size_t k = len; k-- > seen_at[v] - 1;) {
        char *more = vnet_xasprintf("%s -> %s", s, t->nfs[walk[k]].name);
        free(s);
        s = more;
    }
    free(seen_at);
    free(walk);
    return s;
}

static struct vnet_error *
check_graph(struct topology *t, const struct edge *e, size_t n_edges,
            const struct jpath *root)
{
    size_t n = t->n_nfs;
    struct jpath p_edges = JPATH_KEY(root, "edges");
    struct jpath p_nfs = JPATH_KEY(root, "nfs");
    size_t *indeg = vnet_xcalloc(n, sizeof *indeg);
    bool *done = vnet_xcalloc(n, sizeof *done);
    bool *from_in = vnet_xcalloc(n, sizeof *from_in);
    bool *to_out = vnet_xcalloc(n, sizeof *to_out);
    struct vnet_error *error = NULL;

    for (size_t id = 1; id < n && !error; id++) {
        bool used = false;
        for (size_t k = 0; k < n_edges; k++) {
            used |= e[k].from == id || e[k].to == id;
        }
        if (!used) {
            struct jpath p = JPATH_INDEX(&p_nfs, id - 1);
            error = jv_error(&p, "NF \"%s\" is in no edge of $.edges; expected it on "
                             "a path from ingress to egress", t->nfs[id].name);
        }
    }
    if (error) {
        goto out;
    }
    for (size_t k = 0; k < n_edges; k++) {
        if (e[k].from != NF_SOURCE && e[k].to != NF_EGRESS) {
            indeg[e[k].to]++;
        }
    }
    t->order = vnet_xcalloc(n, sizeof *t->order);
    size_t n_order = 0;
    for (;;) {
        size_t pick = 1;
        while (pick < n && (done[pick] || indeg[pick])) {
            pick++;
        }
        if (pick >= n) {
            break;
        }
        done[pick] = true;
        t->order[n_order++] = (uint32_t) pick;
        for (size_t k = 0; k < n_edges; k++) {
            if (e[k].from == pick && e[k].to != NF_EGRESS) {
                indeg[e[k].to]--;
            }
        }
    }
    if (n_order < n - 1) {
        char *cycle = describe_cycle(t, e, n_edges, done);
        error = jv_error(&p_edges, "the graph has a cycle (%s); expected a DAG", cycle);
        free(cycle);
        goto out;
    }
    for (size_t k = 0; k < n_order; k++) {
        uint32_t v = t->order[k];
        for (size_t j = 0; j < n_edges; j++) {
            if (e[j].to == v && (e[j].from == NF_SOURCE || from_in[e[j].from])) {
                from_in[v] = true;
            }
        }
    }
    for (size_t k = n_order; k-- > 0;) {
        uint32_t v = t->order[k];
        for (size_t j = 0; j < n_edges; j++) {
            if (e[j].from == v && (e[j].to == NF_EGRESS || to_out[e[j].to])) {
                to_out[v] = true;
            }
        }
    }
    for (size_t id = 1; id < n && !error; id++) {
        if (!from_in[id]) {
            error = jv_error(&p_edges, "NF \"%s\" cannot be reached from ingress",
                             t->nfs[id].name);
        } else if (!to_out[id]) {
            error = jv_error(&p_edges, "NF \"%s\" has no path to egress",
                             t->nfs[id].name);
        }
    }
    for (size_t k = 0; k < n_edges && !error; k++) {
        if (e[k].from != NF_SOURCE) {
            add_id(&t->nfs[e[k].from].succs, &t->nfs[e[k].from].n_succs, e[k].to);
        }
        if (e[k].to != NF_EGRESS) {
            add_id(&t->nfs[e[k].to].preds, &t->nfs[e[k].to].n_preds, e[k].from);
        }
    }

out:
    free(indeg);
    free(done);
    free(from_in);
    free(to_out);
    return error;
}

/* ---- Captures ------------------------------------------------------------------- */

/* A capture file name must stay inside the trace directory. */
static bool
file_name_ok(struct json_object *v)
{
    const char *s = json_object_get_string(v);
    size_t len = (size_t) json_object_get_string_len(v);
    if (!len || len > PATH_MAX / 2 || strlen(s) != len || s[0] == '/') {
        return false;
    }
    for (const char *p = s; *p;) {
        size_t seg = strcspn(p, "/");
        if (seg == 2 && p[0] == '.' && p[1] == '.') {
            return false;
        }
        p += seg;
        p += *p == '/';
    }
    return true;
}

static struct vnet_error *
check_file(const struct topology *t, const char *file, const char *path,
           const struct jpath *jp)
{
    struct stat st;
    if (stat(path, &st)) {
        int err = errno;
        if (err == ENOENT) {
            return jv_error(jp, "file \"%s\" does not exist in %s", file, t->dir);
        }
        return jv_error(jp, "file \"%s\": %s", file, strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        return jv_error(jp, "\"%s\" is not a regular file", file);
    }
    /* A symbolic link may still lead out of the directory. */
    char *real_dir = realpath(t->dir, NULL), *real_file = realpath(path, NULL);
    size_t n = real_dir ? strlen(real_dir) : 0;
    bool inside = (real_dir && real_file && !strncmp(real_file, real_dir, n)
                   && (real_file[n] == '/' || (n == 1 && real_dir[0] == '/')));
    free(real_dir);
    free(real_file);
    if (!inside) {
        return jv_error(jp, "\"%s\" leads outside %s (a symbolic link); expected a "
                        "file inside the trace directory", file, t->dir);
    }
    return NULL;
}

static struct vnet_error *
parse_captures(struct json_object *root_obj, const struct jpath *root,
               struct topology *t, bool check_files)
{
    static const char *const fields[] = { "in", "out", NULL };
    struct json_object *caps;
    struct vnet_error *error = jv_get_member(root_obj, root, "captures", true, &caps);
    if (error) {
        return error;
    }
    struct jpath p_caps = JPATH_KEY(root, "captures");
    if (!json_object_is_type(caps, json_type_object)) {
        return jv_error_expected(&p_caps, "an object {\"<nf>\": {\"in\": FILE, "
                                 "\"out\": FILE}, ...}", caps);
    }
    json_object_object_foreach(caps, key, value) {
        struct jpath p = JPATH_KEY(&p_caps, key);
        int id = topology_find_nf(t, key);
        if (id < 0) {
            return jv_error(&p, "unknown NF \"%s\"; expected an NF name from $.nfs",
                            key);
        }
        struct topology_nf *nf = &t->nfs[id];
        const char *in, *out;
        if ((error = jv_check_object(value, &p, fields))
            || (error = jv_get_string(value, &p, "in", true, &in))
            || (error = jv_get_string(value, &p, "out", true, &out))) {
            return error;
        }
        const char *keys[2] = { "in", "out" };
        for (int i = 0; i < 2; i++) {
            struct jpath pf = JPATH_KEY(&p, keys[i]);
            struct json_object *v = json_object_object_get(value, keys[i]);
            if (!file_name_ok(v)) {
                return jv_error_expected(&pf, "a file name inside the trace directory "
                                         "(relative, without \"..\")", v);
            }
        }
        if (!strcmp(in, out)) {
            struct jpath pf = JPATH_KEY(&p, "out");
            return jv_error(&pf, "expected a file other than \"in\"'s, got \"%s\"",
                            out);
        }
        nf->in_file = vnet_xstrdup(in);
        nf->out_file = vnet_xstrdup(out);
        nf->in_path = vnet_xasprintf("%s/%s", t->dir, in);
        nf->out_path = vnet_xasprintf("%s/%s", t->dir, out);
        if (check_files) {
            struct jpath p_in = JPATH_KEY(&p, "in"), p_out = JPATH_KEY(&p, "out");
            if ((error = check_file(t, in, nf->in_path, &p_in))
                || (error = check_file(t, out, nf->out_path, &p_out))) {
                return error;
            }
        }
    }
    for (size_t id = 1; id < t->n_nfs; id++) {
        if (!t->nfs[id].in_file) {
            return jv_error(&p_caps, "no capture files for NF \"%s\"; expected "
                            "\"%s\": {\"in\": FILE, \"out\": FILE}", t->nfs[id].name,
                            t->nfs[id].name);
        }
    }
    return NULL;
}

/* ---- Entry points --------------------------------------------------------------- */

struct vnet_error *
topology_from_json(const char *dir, struct json_object *obj, bool check_files,
                   struct topology **ret)
{
    static const char *const fields[] = { "nfs", "edges", "captures", NULL };
    struct jpath root = JPATH_ROOT;
    struct topology *t = vnet_xzalloc(sizeof *t);
    struct json_object *nfs;
    struct edge *edges = NULL;
    size_t n_edges = 0;
    struct vnet_error *error;

    size_t dlen = strlen(dir);
    while (dlen > 1 && dir[dlen - 1] == '/') {
        dlen--;
    }
    t->dir = vnet_xstrndup(dir, dlen);
    if ((error = jv_check_object(obj, &root, fields))
        || (error = jv_get_array(obj, &root, "nfs", true, 1, TOPOLOGY_MAX_NFS, &nfs))) {
        goto fail;
    }
    struct jpath p_nfs = JPATH_KEY(&root, "nfs");
    size_t n = json_object_array_length(nfs);
    t->nfs = vnet_xcalloc(n + 1, sizeof *t->nfs);
    t->n_nfs = 1;
    t->nfs[0].name = vnet_xstrdup("source");
    t->nfs[0].type = vnet_xstrdup("source");
    for (size_t i = 0; i < n; i++) {
        struct jpath p = JPATH_INDEX(&p_nfs, i);
        if ((error = parse_nf(json_object_array_get_idx(nfs, i), &p, t, i + 1))) {
            t->n_nfs = i + 2;   /* free what the failed entry holds */
            goto fail;
        }
        t->n_nfs = i + 2;
    }
    intern_types(t);
    if ((error = parse_edges(obj, &root, t, &edges, &n_edges))
        || (error = check_graph(t, edges, n_edges, &root))
        || (error = parse_captures(obj, &root, t, check_files))) {
        goto fail;
    }
    free(edges);
    *ret = t;
    return NULL;

fail:
    free(edges);
    topology_destroy(t);
    return error;
}

struct vnet_error *
topology_load(const char *dir, struct topology **ret)
{
    size_t dlen = strlen(dir);
    while (dlen > 1 && dir[dlen - 1] == '/') {
        dlen--;
    }
    char *path = vnet_xasprintf("%.*s/topology.json", (int) dlen, dir);
    char *text = NULL;
    size_t len;
    struct json_object *obj = NULL;
    struct vnet_error *error = NULL;
    struct stat st;
    int err;

    if (stat(dir, &st)) {
        error = vnet_error_from_errno(-errno, "%s", dir);
        goto out;
    }
    if (!S_ISDIR(st.st_mode)) {
        error = vnet_error_create(VNET_ERR_INVALID, "%s: not a directory (expected a "
                                  "trace directory)", dir);
        goto out;
    }
    err = vnet_read_file(path, TOPOLOGY_MAX_BYTES, &text, &len);
    if (err) {
        error = (err == -EFBIG
                 ? vnet_error_create(VNET_ERR_INVALID, "%s: larger than %d bytes", path,
                                     TOPOLOGY_MAX_BYTES)
                 : err == -ENOENT
                 ? vnet_error_create(VNET_ERR_INVALID, "%s: missing (a trace "
                                     "directory holds topology.json and the pcaps it "
                                     "names)", path)
                 : vnet_error_from_errno(err, "%s", path));
        goto out;
    }
    if ((error = jv_parse(text, len, &obj))
        || (error = topology_from_json(dir, obj, true, ret))) {
        error = vnet_error_wrap(error, "%s", path);
    }

out:
    json_object_put(obj);
    free(text);
    free(path);
    return error;
}

void
topology_to_match(const struct topology *t, struct match_nf *nfs)
{
    nfs[0] = (struct match_nf) { .name = "source" };
    for (size_t i = 1; i < t->n_nfs; i++) {
        const struct topology_nf *nf = &t->nfs[i];
        nfs[i] = (struct match_nf) {
            .name = nf->name, .type = nf->type_id, .cls = nf->cls,
            .r_peak = (double) nf->peak_pps / 1e9, .qcap = nf->qcap, .fifo = nf->fifo,
            .preds = nf->preds, .n_preds = nf->n_preds,
            .succs = nf->succs, .n_succs = nf->n_succs,
            .rules = nf->rules, .n_rules = nf->n_rules,
        };
    }
}
