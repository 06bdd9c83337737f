#include "vnetd/shadow-fix.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/chain-template.h"
#include "lib/error.h"
#include "lib/jsonv.h"
#include "lib/util.h"

/* Converts 'tj' (ownership taken) into the shadow's new template, which must keep
 * production's nodes and graph.  'what' prefixes error messages. */
static struct vnet_error *
template_from_patched(struct json_object *tj, const char *what,
                      const struct chain_template *prod, struct chain_template **ret)
{
    struct chain_template *t;
    struct vnet_error *error = chain_template_from_json(what, tj, &t);
    json_object_put(tj);
    if (error) {
        return error;
    }
    bool same = t->n_nodes == prod->n_nodes && t->n_edges == prod->n_edges
                && !memcmp(t->edges, prod->edges, t->n_edges * sizeof *t->edges);
    for (size_t i = 0; same && i < t->n_nodes; i++) {
        same = !strcmp(t->nodes[i].name, prod->nodes[i].name);
    }
    if (!same) {
        chain_template_destroy(t);
        return vnet_error_create(VNET_ERR_INVALID, "%s: the shadow must keep "
                                 "production's nodes and graph (change NF modes, "
                                 "arguments and resources instead)", what);
    }
    *ret = t;
    return NULL;
}

static struct json_object *
find_node_json(struct json_object *tj, const char *node)
{
    struct json_object *nodes = json_object_object_get(tj, "nodes");
    for (size_t i = 0; i < json_object_array_length(nodes); i++) {
        struct json_object *n = json_object_array_get_idx(nodes, i);
        if (!strcmp(json_object_get_string(json_object_object_get(n, "name")), node)) {
            return n;
        }
    }
    return NULL;
}

/* Applies one "key=value" setting to a node's JSON. */
static struct vnet_error *
apply_setting(struct json_object *node, const char *key, struct json_object *value)
{
    struct json_object *nf = json_object_object_get(node, "nf");
    static const struct { const char *key, *field; bool in_nf, integer; } map[] = {
        { "cpus", "cpus", false, true }, { "memory", "memory", false, true },
        { "queue", "queue", true, true }, { "peak_pps", "peak_pps", true, true },
        { "mode", "mode", true, false }, { "args", "args", true, false },
    };
    for (size_t i = 0; i < VNET_ARRAY_SIZE(map); i++) {
        if (strcmp(map[i].key, key)) {
            continue;
        }
        const char *text = json_object_get_string(value);
        struct json_object *v;
        if (!strcmp(key, "args")) {
            /* Split on spaces: no quoting, no shell semantics. */
            v = json_object_new_array();
            char *copy = vnet_xstrdup(text), *save = NULL;
            for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
                json_object_array_add(v, json_object_new_string(w));
            }
            free(copy);
        } else if (map[i].integer) {
            unsigned long long n;
            if (vnet_parse_uint(text, 0, 1ull << 40, &n)) {
                return vnet_error_create(VNET_ERR_INVALID, "%s: expected a number, got "
                                         "'%s'", key, text);
            }
            v = json_object_new_int64((int64_t) n);
        } else {
            v = json_object_new_string(text);
        }
        json_object_object_add(map[i].in_nf ? nf : node, map[i].field, v);
        return NULL;
    }
    return vnet_error_create(VNET_ERR_INVALID, "'%s': unknown setting (expected cpus, "
                             "memory, queue, peak_pps, mode or args)", key);
}

struct vnet_error *
shadow_fix_set(const struct chain_template *shadow,
               const struct chain_template *production, const char *chain,
               const char *node, struct json_object *settings,
               struct chain_template **ret)
{
    struct json_object *tj = chain_template_to_json(shadow);
    struct json_object *nj = find_node_json(tj, node);
    struct vnet_error *error = NULL;
    if (!nj) {
        error = vnet_error_create(VNET_ERR_NOT_FOUND, "chain '%s' has no NF '%s'",
                                  chain, node);
    }
    if (!error && !json_object_object_length(settings)) {
        error = vnet_error_create(VNET_ERR_INVALID, "no setting given (KEY=VALUE)");
    }
    if (!error) {
        json_object_object_foreach(settings, key, value) {
            if (!json_object_is_type(value, json_type_string)) {
                error = vnet_error_create(VNET_ERR_INVALID, "params.settings.%s: expected "
                                          "a string", key);
                break;
            }
            if ((error = apply_setting(nj, key, value))) {
                break;
            }
        }
    }
    if (error) {
        json_object_put(tj);
        return vnet_error_wrap(error, "shadow set %s", node);
    }
    char *what = vnet_xasprintf("shadow set %s", node);
    error = template_from_patched(tj, what, production, ret);
    free(what);
    return error;
}

/* RFC 7396 JSON merge patch of 'patch' into 'target'. */
static void
merge_patch(struct json_object *target, struct json_object *patch)
{
    json_object_object_foreach(patch, key, value) {
        struct json_object *cur = json_object_object_get(target, key);
        if (!value) {
            json_object_object_del(target, key);
        } else if (json_object_is_type(value, json_type_object)
                   && json_object_is_type(cur, json_type_object)) {
            merge_patch(cur, value);
        } else {
            json_object_object_add(target, key, json_object_get(value));
        }
    }
}

struct vnet_error *
shadow_fix_edit(const struct chain_template *shadow,
                const struct chain_template *production, const char *chain,
                const char *file, const char *text, size_t len,
                struct chain_template **ret)
{
    struct json_object *patch;
    struct vnet_error *error = jv_parse(text, len, &patch);
    if (error) {
        return vnet_error_wrap(error, "%s", file);
    }
    static const char *const fields[] = { "nodes", NULL };
    struct jpath root = JPATH_ROOT;
    struct json_object *nodes = NULL;
    error = jv_check_object(patch, &root, fields);
    if (!error) {
        error = jv_get_member(patch, &root, "nodes", true, &nodes);
    }
    if (!error && !json_object_is_type(nodes, json_type_object)) {
        struct jpath p = JPATH_KEY(&root, "nodes");
        error = jv_error_expected(&p, "an object keyed by node name", nodes);
    }
    struct json_object *tj = chain_template_to_json(shadow);
    if (!error) {
        struct jpath p_nodes = JPATH_KEY(&root, "nodes");
        json_object_object_foreach(nodes, node, change) {
            struct jpath p = JPATH_KEY(&p_nodes, node);
            struct json_object *nj = find_node_json(tj, node);
            if (!nj) {
                error = jv_error(&p, "chain '%s' has no NF named \"%s\"", chain, node);
                break;
            }
            if (!json_object_is_type(change, json_type_object)) {
                error = jv_error_expected(&p, "an object (a merge patch of the node)",
                                          change);
                break;
            }
            if (json_object_object_get(change, "name")) {
                error = jv_error(&p, "a node cannot be renamed in a shadow");
                break;
            }
            merge_patch(nj, change);
        }
    }
    json_object_put(patch);
    if (error) {
        json_object_put(tj);
        return vnet_error_wrap(error, "%s", file);
    }
    return template_from_patched(tj, file, production, ret);
}
