#include "chain-template.h"

#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "jsonv.h"
#include "util.h"

#define TEMPLATE_MAX_BYTES (1024 * 1024)

const char *
vnode_kind_to_string(enum vnode_kind kind)
{
    return kind == VNODE_QEMU ? "qemu" : "lxc";
}

static void
node_free(struct chain_node *node)
{
    free(node->name);
    free(node->program);
    free(node->mode);
    for (size_t i = 0; i < node->n_args; i++) {
        free(node->args[i]);
    }
    free(node->args);
}

void
chain_template_destroy(struct chain_template *t)
{
    if (!t) {
        return;
    }
    free(t->name);
    free(t->description);
    free(t->bridge);
    free(t->datapath);
    for (size_t i = 0; i < t->n_nodes; i++) {
        node_free(&t->nodes[i]);
    }
    free(t->nodes);
    free(t->edges);
    free(t);
}

int
chain_template_find_node(const struct chain_template *t, const char *name)
{
    for (size_t i = 0; i < t->n_nodes; i++) {
        if (!strcmp(t->nodes[i].name, name)) {
            return (int) i;
        }
    }
    return -1;
}

const char *
chain_template_endpoint_name(const struct chain_template *t, int idx)
{
    return (idx == CHAIN_EP_INGRESS ? CHAIN_INGRESS
            : idx == CHAIN_EP_EGRESS ? CHAIN_EGRESS
            : t->nodes[idx].name);
}

/* Parses "a.b.c.d" into host byte order. */
static bool
parse_ipv4(const char *s, uint32_t *ret)
{
    struct in_addr in;
    if (inet_pton(AF_INET, s, &in) != 1) {
        return false;
    }
    *ret = ntohl(in.s_addr);
    return true;
}

static struct vnet_error *
parse_addressing(struct json_object *obj, const struct jpath *root,
                 struct chain_template *t)
{
    static const char *const fields[] = { "subnet", "source", "sink", NULL };
    struct json_object *addr;
    struct vnet_error *error = jv_get_member(obj, root, "addressing", true, &addr);
    if (error) {
        return error;
    }
    struct jpath path = JPATH_KEY(root, "addressing");
    const char *subnet, *source, *sink;
    if ((error = jv_check_object(addr, &path, fields))
        || (error = jv_get_string(addr, &path, "subnet", true, &subnet))
        || (error = jv_get_string(addr, &path, "source", true, &source))
        || (error = jv_get_string(addr, &path, "sink", true, &sink))) {
        return error;
    }

    struct jpath p_subnet = JPATH_KEY(&path, "subnet");
    const char *slash = strchr(subnet, '/');
    unsigned long long plen;
    char ip[INET_ADDRSTRLEN];
    if (!slash || (size_t) (slash - subnet) >= sizeof ip
        || vnet_parse_uint(slash + 1, 8, 30, &plen)
        || (memcpy(ip, subnet, (size_t) (slash - subnet)), ip[slash - subnet] = '\0',
            !parse_ipv4(ip, &t->subnet))) {
        return jv_error_expected(&p_subnet, "an IPv4 prefix a.b.c.d/8..30",
                                 json_object_object_get(addr, "subnet"));
    }
    t->prefix_len = (unsigned) plen;
    uint32_t mask = ~0u << (32 - t->prefix_len);
    if (t->subnet & ~mask) {
        return jv_error(&p_subnet, "'%s' has host bits set", subnet);
    }

    const char *names[2] = { "source", "sink" };
    const char *values[2] = { source, sink };
    uint32_t *dst[2] = { &t->source_ip, &t->sink_ip };
    for (int i = 0; i < 2; i++) {
        struct jpath p = JPATH_KEY(&path, names[i]);
        if (!parse_ipv4(values[i], dst[i])) {
            return jv_error_expected(&p, "an IPv4 address a.b.c.d",
                                     json_object_object_get(addr, names[i]));
        }
        if ((*dst[i] & mask) != t->subnet || (*dst[i] & ~mask) == 0
            || (*dst[i] & ~mask) == ~mask) {
            return jv_error(&p, "expected a host address inside %s, got \"%s\"",
                            subnet, values[i]);
        }
    }
    if (t->source_ip == t->sink_ip) {
        struct jpath p = JPATH_KEY(&path, "sink");
        return jv_error(&p, "expected an address different from the source's, got "
                        "\"%s\"", sink);
    }
    return NULL;
}

static struct vnet_error *
parse_bridge(struct json_object *obj, const struct jpath *root, struct chain_template *t)
{
    static const char *const fields[] = { "name", "datapath", NULL };
    static const char *const datapaths[] = { "auto", "netdev", "system" };
    struct json_object *br;
    struct vnet_error *error = jv_get_member(obj, root, "bridge", true, &br);
    if (error) {
        return error;
    }
    struct jpath path = JPATH_KEY(root, "bridge");
    const char *name, *datapath = "auto";
    if ((error = jv_check_object(br, &path, fields))
        || (error = jv_get_name(br, &path, "name", true, &name))
        || (error = jv_get_string(br, &path, "datapath", false, &datapath))) {
        return error;
    }
    if (strlen(name) > CHAIN_BRIDGE_MAX) {
        struct jpath p = JPATH_KEY(&path, "name");
        return jv_error(&p, "expected at most %d characters (a bridge is a network "
                        "device), got \"%s\"", CHAIN_BRIDGE_MAX, name);
    }
    bool known = false;
    for (size_t i = 0; i < VNET_ARRAY_SIZE(datapaths); i++) {
        known |= !strcmp(datapath, datapaths[i]);
    }
    if (!known) {
        struct jpath p = JPATH_KEY(&path, "datapath");
        return jv_error_expected(&p, "\"auto\", \"netdev\" or \"system\"",
                                 json_object_object_get(br, "datapath"));
    }
    t->bridge = vnet_xstrdup(name);
    t->datapath = vnet_xstrdup(datapath);
    return NULL;
}

static struct vnet_error *
parse_nf(struct json_object *node_obj, const struct jpath *npath, struct chain_node *node)
{
    static const char *const fields[] = { "program", "mode", "args", "peak_pps",
                                          "queue", NULL };
    struct json_object *nf, *args = NULL;
    struct vnet_error *error = jv_get_member(node_obj, npath, "nf", true, &nf);
    if (error) {
        return error;
    }
    struct jpath path = JPATH_KEY(npath, "nf");
    const char *program, *mode = NULL;
    int64_t peak_pps = 0, queue = 0;
    if ((error = jv_check_object(nf, &path, fields))
        || (error = jv_get_string(nf, &path, "program", true, &program))
        || (error = jv_get_name(nf, &path, "mode", false, &mode))
        || (error = jv_get_array(nf, &path, "args", false, 0, CHAIN_MAX_ARGS, &args))
        || (error = jv_get_int(nf, &path, "peak_pps", false, 1, 100000000, &peak_pps))
        || (error = jv_get_int(nf, &path, "queue", false, 1, 1 << 20, &queue))) {
        return error;
    }
    struct jpath p_prog = JPATH_KEY(&path, "program");
    if (!*program || strlen(program) > 255 || strpbrk(program, " \t\n\"'\\$`;&|<>*?")) {
        return jv_error_expected(&p_prog, "a program name or absolute path without "
                                 "spaces or shell characters",
                                 json_object_object_get(nf, "program"));
    }
    node->program = vnet_xstrdup(program);
    node->mode = mode ? vnet_xstrdup(mode) : NULL;
    node->peak_pps = (uint64_t) peak_pps;
    node->queue = (unsigned) queue;
    if (args) {
        struct jpath p_args = JPATH_KEY(&path, "args");
        size_t n = json_object_array_length(args);
        node->args = vnet_xcalloc(n, sizeof *node->args);
        for (size_t i = 0; i < n; i++) {
            struct jpath p = JPATH_INDEX(&p_args, i);
            const char *arg;
            if ((error = jv_as_string(json_object_array_get_idx(args, i), &p, &arg))) {
                return error;
            }
            if (strlen(arg) > 1024 || strchr(arg, '\n')) {
                return jv_error(&p, "expected an argument of at most 1024 characters "
                                "without newlines");
            }
            node->args[node->n_args++] = vnet_xstrdup(arg);
        }
    }
    return NULL;
}

static struct vnet_error *
parse_node(struct json_object *obj, const struct jpath *path, struct chain_node *node)
{
    static const char *const fields[] = { "name", "kind", "cpus", "memory", "nf", NULL };
    const char *name, *kind = "lxc";
    int64_t cpus = 1, memory = 256;
    struct vnet_error *error;
    if ((error = jv_check_object(obj, path, fields))
        || (error = jv_get_name(obj, path, "name", true, &name))
        || (error = jv_get_string(obj, path, "kind", false, &kind))
        || (error = jv_get_int(obj, path, "cpus", false, 1, 64, &cpus))
        || (error = jv_get_int(obj, path, "memory", false, 16, 1 << 20, &memory))) {
        return error;
    }
    static const char *const reserved[] = { CHAIN_INGRESS, CHAIN_EGRESS, "source",
                                            "sink" };
    for (size_t i = 0; i < VNET_ARRAY_SIZE(reserved); i++) {
        if (!strcmp(name, reserved[i])) {
            struct jpath p = JPATH_KEY(path, "name");
            return jv_error(&p, "\"%s\" is reserved for the chain's endpoints", name);
        }
    }
    if (!strcmp(kind, "lxc")) {
        node->kind = VNODE_LXC;
    } else if (!strcmp(kind, "qemu")) {
        node->kind = VNODE_QEMU;
    } else {
        struct jpath p = JPATH_KEY(path, "kind");
        return jv_error_expected(&p, "\"lxc\" or \"qemu\"",
                                 json_object_object_get(obj, "kind"));
    }
    node->name = vnet_xstrdup(name);
    node->cpus = (unsigned) cpus;
    node->memory_mib = (unsigned) memory;
    return parse_nf(obj, path, node);
}

/* Resolves an endpoint name in the graph to a node index or CHAIN_EP_*. */
static struct vnet_error *
resolve_endpoint(const struct chain_template *t, struct json_object *value,
                 const struct jpath *path, int *ret)
{
    const char *name;
    struct vnet_error *error = jv_as_string(value, path, &name);
    if (error) {
        return error;
    }
    if (!strcmp(name, CHAIN_INGRESS)) {
        *ret = CHAIN_EP_INGRESS;
    } else if (!strcmp(name, CHAIN_EGRESS)) {
        *ret = CHAIN_EP_EGRESS;
    } else if ((*ret = chain_template_find_node(t, name)) < 0) {
        return jv_error(path, "expected \"ingress\", \"egress\" or the name of a node "
                        "in $.nodes, got \"%s\"", name);
    }
    return NULL;
}

static void
add_edge(struct chain_template *t, size_t *cap, int from, int to)
{
    vnet_grow((void **) &t->edges, cap, t->n_edges + 1, sizeof *t->edges);
    t->edges[t->n_edges++] = (struct chain_edge) { from, to };
}

static struct vnet_error *
parse_graph(struct json_object *obj, const struct jpath *root, struct chain_template *t)
{
    static const char *const fields[] = { "chain", "edges", NULL };
    struct json_object *graph, *chain = NULL, *edges = NULL;
    struct vnet_error *error = jv_get_member(obj, root, "graph", true, &graph);
    if (error) {
        return error;
    }
    struct jpath path = JPATH_KEY(root, "graph");
    if ((error = jv_check_object(graph, &path, fields))
        || (error = jv_get_array(graph, &path, "chain", false, 1, CHAIN_MAX_NODES,
                                 &chain))
        || (error = jv_get_array(graph, &path, "edges", false, 1,
                                 CHAIN_MAX_NODES * CHAIN_MAX_NODES, &edges))) {
        return error;
    }
    if (!chain == !edges) {
        return jv_error(&path, "expected exactly one of \"chain\" (an ordered list of "
                        "node names) or \"edges\" (pairs of endpoints)");
    }
    size_t cap = 0;
    if (chain) {
        struct jpath p_chain = JPATH_KEY(&path, "chain");
        int prev = CHAIN_EP_INGRESS;
        for (size_t i = 0; i < json_object_array_length(chain); i++) {
            struct jpath p = JPATH_INDEX(&p_chain, i);
            int idx;
            if ((error = resolve_endpoint(t, json_object_array_get_idx(chain, i), &p,
                                          &idx))) {
                return error;
            }
            if (idx < 0) {
                return jv_error(&p, "the chain lists nodes only; ingress and egress "
                                "are implied at its ends");
            }
            add_edge(t, &cap, prev, idx);
            prev = idx;
        }
        add_edge(t, &cap, prev, CHAIN_EP_EGRESS);
        return NULL;
    }

    struct jpath p_edges = JPATH_KEY(&path, "edges");
    for (size_t i = 0; i < json_object_array_length(edges); i++) {
        struct jpath p_edge = JPATH_INDEX(&p_edges, i);
        struct json_object *pair = json_object_array_get_idx(edges, i);
        if (!json_object_is_type(pair, json_type_array)
            || json_object_array_length(pair) != 2) {
            return jv_error_expected(&p_edge, "a pair [\"from\", \"to\"]", pair);
        }
        struct jpath p_from = JPATH_INDEX(&p_edge, 0), p_to = JPATH_INDEX(&p_edge, 1);
        int from, to;
        if ((error = resolve_endpoint(t, json_object_array_get_idx(pair, 0), &p_from,
                                      &from))
            || (error = resolve_endpoint(t, json_object_array_get_idx(pair, 1), &p_to,
                                         &to))) {
            return error;
        }
        if (from == CHAIN_EP_EGRESS) {
            return jv_error(&p_from, "\"egress\" cannot be the start of an edge");
        }
        if (to == CHAIN_EP_INGRESS) {
            return jv_error(&p_to, "\"ingress\" cannot be the end of an edge");
        }
        if (from == to) {
            return jv_error(&p_edge, "an edge from \"%s\" to itself makes a cycle",
                            chain_template_endpoint_name(t, from));
        }
        if (from == CHAIN_EP_INGRESS && to == CHAIN_EP_EGRESS) {
            return jv_error(&p_edge, "an edge from ingress straight to egress "
                            "bypasses every NF");
        }
        for (size_t j = 0; j < t->n_edges; j++) {
            if (t->edges[j].from == from && t->edges[j].to == to) {
                return jv_error(&p_edge, "duplicate edge");
            }
        }
        add_edge(t, &cap, from, to);
    }
    return NULL;
}

/* Checks that the graph is a DAG in which every node lies on a path from ingress to
 * egress, then reorders the nodes topologically (Kahn, stable in template order). */
static struct vnet_error *
check_graph(const char *label, struct chain_template *t, const struct jpath *root)
{
    size_t n = t->n_nodes;
    struct jpath p_graph = JPATH_KEY(root, "graph");
    int *indeg = vnet_xcalloc(n, sizeof *indeg);
    int *order = vnet_xcalloc(n, sizeof *order);
    bool *from_ingress = vnet_xcalloc(n, sizeof *from_ingress);
    bool *to_egress = vnet_xcalloc(n, sizeof *to_egress);
    struct vnet_error *error = NULL;
    size_t n_order = 0;
    (void) label;

    for (size_t e = 0; e < t->n_edges; e++) {
        if (t->edges[e].to >= 0 && t->edges[e].from >= 0) {
            indeg[t->edges[e].to]++;
        }
    }
    /* Kahn's algorithm over node-to-node edges. */
    bool *done = vnet_xcalloc(n, sizeof *done);
    for (;;) {
        size_t pick = n;
        for (size_t i = 0; i < n; i++) {
            if (!done[i] && indeg[i] == 0) {
                pick = i;
                break;
            }
        }
        if (pick == n) {
            break;
        }
        done[pick] = true;
        order[n_order++] = (int) pick;
        for (size_t e = 0; e < t->n_edges; e++) {
            if (t->edges[e].from == (int) pick && t->edges[e].to >= 0) {
                indeg[t->edges[e].to]--;
            }
        }
    }
    if (n_order < n) {
        for (size_t i = 0; i < n; i++) {
            if (!done[i]) {
                error = jv_error(&p_graph, "the graph has a cycle through \"%s\"; "
                                 "expected a DAG", t->nodes[i].name);
                break;
            }
        }
        goto out;
    }

    /* Reachability, in topological order forwards and backwards. */
    for (size_t k = 0; k < n; k++) {
        int v = order[k];
        for (size_t e = 0; e < t->n_edges; e++) {
            if (t->edges[e].to == v
                && (t->edges[e].from == CHAIN_EP_INGRESS
                    || (t->edges[e].from >= 0 && from_ingress[t->edges[e].from]))) {
                from_ingress[v] = true;
            }
        }
    }
    for (size_t k = n; k-- > 0;) {
        int v = order[k];
        for (size_t e = 0; e < t->n_edges; e++) {
            if (t->edges[e].from == v
                && (t->edges[e].to == CHAIN_EP_EGRESS
                    || (t->edges[e].to >= 0 && to_egress[t->edges[e].to]))) {
                to_egress[v] = true;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!from_ingress[i]) {
            error = jv_error(&p_graph, "node \"%s\" cannot be reached from ingress",
                             t->nodes[i].name);
            goto out;
        }
        if (!to_egress[i]) {
            error = jv_error(&p_graph, "node \"%s\" has no path to egress",
                             t->nodes[i].name);
            goto out;
        }
    }

    /* Reorder nodes and renumber edges. */
    int *new_index = vnet_xcalloc(n, sizeof *new_index);
    struct chain_node *nodes = vnet_xcalloc(n, sizeof *nodes);
    for (size_t k = 0; k < n; k++) {
        nodes[k] = t->nodes[order[k]];
        new_index[order[k]] = (int) k;
    }
    free(t->nodes);
    t->nodes = nodes;
    for (size_t e = 0; e < t->n_edges; e++) {
        if (t->edges[e].from >= 0) {
            t->edges[e].from = new_index[t->edges[e].from];
        }
        if (t->edges[e].to >= 0) {
            t->edges[e].to = new_index[t->edges[e].to];
        }
    }
    free(new_index);

out:
    free(done);
    free(indeg);
    free(order);
    free(from_ingress);
    free(to_egress);
    return error;
}

struct vnet_error *
chain_template_from_json(const char *label, struct json_object *obj,
                         struct chain_template **ret)
{
    static const char *const fields[] = { "name", "description", "bridge", "addressing",
                                          "nodes", "graph", NULL };
    struct jpath root = JPATH_ROOT;
    struct chain_template *t = vnet_xzalloc(sizeof *t);
    struct json_object *nodes;
    const char *name, *description = "";
    struct vnet_error *error;

    if ((error = jv_check_object(obj, &root, fields))
        || (error = jv_get_name(obj, &root, "name", true, &name))
        || (error = jv_get_string(obj, &root, "description", false, &description))
        || (error = parse_bridge(obj, &root, t))
        || (error = parse_addressing(obj, &root, t))
        || (error = jv_get_array(obj, &root, "nodes", true, 1, CHAIN_MAX_NODES,
                                 &nodes))) {
        goto fail;
    }
    t->name = vnet_xstrdup(name);
    t->description = vnet_xstrdup(description);

    struct jpath p_nodes = JPATH_KEY(&root, "nodes");
    size_t n = json_object_array_length(nodes);
    t->nodes = vnet_xcalloc(n, sizeof *t->nodes);
    for (size_t i = 0; i < n; i++) {
        struct jpath p = JPATH_INDEX(&p_nodes, i);
        error = parse_node(json_object_array_get_idx(nodes, i), &p, &t->nodes[i]);
        t->n_nodes++;
        if (error) {
            goto fail;
        }
        if (chain_template_find_node(t, t->nodes[i].name) != (int) i) {
            struct jpath p_name = JPATH_KEY(&p, "name");
            error = jv_error(&p_name, "duplicate node name \"%s\"", t->nodes[i].name);
            goto fail;
        }
    }
    if ((error = parse_graph(obj, &root, t))) {
        goto fail;
    }
    for (size_t i = 0; i < t->n_nodes; i++) {
        bool used = false;
        for (size_t e = 0; e < t->n_edges; e++) {
            used |= t->edges[e].from == (int) i || t->edges[e].to == (int) i;
        }
        if (!used) {
            struct jpath p = JPATH_INDEX(&p_nodes, i);
            error = jv_error(&p, "node \"%s\" is not part of the graph",
                             t->nodes[i].name);
            goto fail;
        }
    }
    if ((error = check_graph(label, t, &root))) {
        goto fail;
    }
    *ret = t;
    return NULL;

fail:
    chain_template_destroy(t);
    return label ? vnet_error_wrap(error, "%s", label) : error;
}

struct vnet_error *
chain_template_parse(const char *label, const char *text, size_t len,
                     struct chain_template **ret)
{
    struct json_object *obj;
    struct vnet_error *error = jv_parse(text, len, &obj);
    if (error) {
        return label ? vnet_error_wrap(error, "%s", label) : error;
    }
    error = chain_template_from_json(label, obj, ret);
    json_object_put(obj);
    return error;
}

struct vnet_error *
chain_template_load_file(const char *path, struct chain_template **ret)
{
    char *text;
    size_t len;
    int err = vnet_read_file(path, TEMPLATE_MAX_BYTES, &text, &len);
    if (err) {
        return (err == -EFBIG
                ? vnet_error_create(VNET_ERR_INVALID, "%s: larger than %d bytes", path,
                                    TEMPLATE_MAX_BYTES)
                : vnet_error_from_errno(err, "%s", path));
    }
    struct vnet_error *error = chain_template_parse(vnet_basename(path), text, len, ret);
    free(text);
    return error;
}

static const char *
format_ipv4(uint32_t ip, char buf[INET_ADDRSTRLEN])
{
    struct in_addr in = { .s_addr = htonl(ip) };
    return inet_ntop(AF_INET, &in, buf, INET_ADDRSTRLEN);
}

struct json_object *
chain_template_to_json(const struct chain_template *t)
{
    struct json_object *obj = json_object_new_object();
    char buf[INET_ADDRSTRLEN];
    json_object_object_add(obj, "name", json_object_new_string(t->name));
    json_object_object_add(obj, "description", json_object_new_string(t->description));

    struct json_object *br = json_object_new_object();
    json_object_object_add(br, "name", json_object_new_string(t->bridge));
    json_object_object_add(br, "datapath", json_object_new_string(t->datapath));
    json_object_object_add(obj, "bridge", br);

    struct json_object *addr = json_object_new_object();
    char *subnet = vnet_xasprintf("%s/%u", format_ipv4(t->subnet, buf), t->prefix_len);
    json_object_object_add(addr, "subnet", json_object_new_string(subnet));
    free(subnet);
    json_object_object_add(addr, "source",
                           json_object_new_string(format_ipv4(t->source_ip, buf)));
    json_object_object_add(addr, "sink",
                           json_object_new_string(format_ipv4(t->sink_ip, buf)));
    json_object_object_add(obj, "addressing", addr);

    struct json_object *nodes = json_object_new_array();
    for (size_t i = 0; i < t->n_nodes; i++) {
        const struct chain_node *node = &t->nodes[i];
        struct json_object *n = json_object_new_object();
        json_object_object_add(n, "name", json_object_new_string(node->name));
        json_object_object_add(n, "kind",
                               json_object_new_string(vnode_kind_to_string(node->kind)));
        json_object_object_add(n, "cpus", json_object_new_int((int) node->cpus));
        json_object_object_add(n, "memory", json_object_new_int((int) node->memory_mib));
        struct json_object *nf = json_object_new_object();
        json_object_object_add(nf, "program", json_object_new_string(node->program));
        if (node->mode) {
            json_object_object_add(nf, "mode", json_object_new_string(node->mode));
        }
        struct json_object *args = json_object_new_array();
        for (size_t a = 0; a < node->n_args; a++) {
            json_object_array_add(args, json_object_new_string(node->args[a]));
        }
        json_object_object_add(nf, "args", args);
        if (node->peak_pps) {
            json_object_object_add(nf, "peak_pps",
                                   json_object_new_int64((int64_t) node->peak_pps));
        }
        if (node->queue) {
            json_object_object_add(nf, "queue", json_object_new_int((int) node->queue));
        }
        json_object_object_add(n, "nf", nf);
        json_object_array_add(nodes, n);
    }
    json_object_object_add(obj, "nodes", nodes);

    struct json_object *graph = json_object_new_object();
    struct json_object *edges = json_object_new_array();
    for (size_t e = 0; e < t->n_edges; e++) {
        struct json_object *pair = json_object_new_array();
        json_object_array_add(pair, json_object_new_string(
                                  chain_template_endpoint_name(t, t->edges[e].from)));
        json_object_array_add(pair, json_object_new_string(
                                  chain_template_endpoint_name(t, t->edges[e].to)));
        json_object_array_add(edges, pair);
    }
    json_object_object_add(graph, "edges", edges);
    json_object_object_add(obj, "graph", graph);
    return obj;
}

struct chain_template *
chain_template_clone(const struct chain_template *t)
{
    struct json_object *obj = chain_template_to_json(t);
    struct chain_template *copy = NULL;
    struct vnet_error *error = chain_template_from_json(NULL, obj, &copy);
    json_object_put(obj);
    if (error) {
        /* The canonical form of a valid template is valid by construction. */
        abort();
    }
    return copy;
}
