/* fuzz-shadow-patch.c -- the fixes tried on a Shadow VNet: the template changes of
 * 'shadow/set' (KEY=VALUE settings of one NF) and 'shadow/edit' (a merge patch of
 * the nodes), vnetd/shadow-fix.h.
 *
 * Input: byte 0 modulo 4 picks the command and the chain ('0' set and '1' edit on
 * templates/chains/fw-nat-vpn.json, '2' set and '3' edit on lb-2fw-vpn.json); the
 * rest is
 *   - for set: the request's other parameters, {"node": NF, "settings": {...}};
 *     like the control server, the target goes no further unless "node" is a name
 *     and "settings" an object (control.c checks both before the handler runs);
 *   - for edit: the patch text, up to its first NUL (the handler gets it as a
 *     JSON string).
 *
 * Checked, besides memory safety and leaks: a change that is accepted keeps
 * production's nodes and graph and gives a valid template; a setting lands in the
 * NF it names, with the value given; an edit leaves the NFs it does not name as
 * they were. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/chain-template.h"
#include "lib/error.h"
#include "lib/jsonv.h"
#include "lib/names.h"
#include "lib/util.h"
#include "tests/fuzz/fuzz.h"
#include "vnetd/shadow-fix.h"

static struct chain_template *production[2], *shadow[2];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    static const char *const names[2] = { "fw-nat-vpn", "lb-2fw-vpn" };
    for (int i = 0; i < 2; i++) {
        char *path = vnet_xasprintf("%s/templates/chains/%s.json", VNET_SOURCE_DIR,
                                    names[i]);
        struct vnet_error *error = chain_template_load_file(path, &production[i]);
        if (error) {
            fprintf(stderr, "fuzz-shadow-patch: %s\n", error->message);
            abort();
        }
        free(path);
        /* The shadow starts as production's clone, as 'shadow create' makes it. */
        shadow[i] = chain_template_clone(production[i]);
    }
    return 0;
}

static struct json_object *
node_json(const struct chain_template *t, const char *name)
{
    struct json_object *tj = chain_template_to_json(t);
    struct json_object *nodes = json_object_object_get(tj, "nodes");
    struct json_object *node = NULL;
    for (size_t i = 0; i < json_object_array_length(nodes); i++) {
        struct json_object *n = json_object_array_get_idx(nodes, i);
        if (!strcmp(json_object_get_string(json_object_object_get(n, "name")), name)) {
            node = json_object_get(n);
        }
    }
    json_object_put(tj);
    return node;
}

static void
check_kept_graph(const struct chain_template *t, const struct chain_template *prod)
{
    fuzz_check(t->n_nodes == prod->n_nodes && t->n_edges == prod->n_edges
               && !memcmp(t->edges, prod->edges, t->n_edges * sizeof *t->edges),
               "the shadow keeps production's graph");
    for (size_t i = 0; i < t->n_nodes; i++) {
        fuzz_check(!strcmp(t->nodes[i].name, prod->nodes[i].name),
                   "the shadow keeps production's nodes");
    }
    chain_template_destroy(chain_template_clone(t));
}

/* The setting 'key' = 'value' is what node 'n' now has. */
static void
check_setting(const struct chain_node *n, const char *key, const char *value)
{
    if (!strcmp(key, "mode")) {
        fuzz_check(n->mode && !strcmp(n->mode, value), "mode set");
    } else if (!strcmp(key, "args")) {
        struct vnet_buf b = VNET_BUF_INITIALIZER;
        for (size_t i = 0; i < n->n_args; i++) {
            vnet_buf_printf(&b, "%s%s", i ? " " : "", n->args[i]);
        }
        char *joined = vnet_buf_steal(&b), *words = vnet_xstrdup(value), *save = NULL;
        struct vnet_buf w = VNET_BUF_INITIALIZER;
        size_t k = 0;
        for (char *t = strtok_r(words, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
            vnet_buf_printf(&w, "%s%s", k++ ? " " : "", t);
        }
        char *expected = vnet_buf_steal(&w);
        fuzz_check(!strcmp(joined, expected), "args set, split on spaces");
        free(joined);
        free(words);
        free(expected);
    } else {
        unsigned long long v;
        fuzz_check(!vnet_parse_uint(value, 0, UINT64_MAX, &v), "numbers parse");
        unsigned long long have = (!strcmp(key, "cpus") ? n->cpus
                                   : !strcmp(key, "memory") ? n->memory_mib
                                   : !strcmp(key, "queue") ? n->queue
                                   : n->peak_pps);
        fuzz_check(have == v, "number set");
    }
}

static void
fuzz_set(int which, const char *text, size_t len)
{
    struct json_object *params, *node = NULL, *settings = NULL;
    struct vnet_error *error = jv_parse(text, len, &params);
    if (error) {
        vnet_error_destroy(error);
        return;
    }
    if (json_object_is_type(params, json_type_object)) {
        node = json_object_object_get(params, "node");
        settings = json_object_object_get(params, "settings");
    }
    if (!json_object_is_type(node, json_type_string)
        || !vnet_name_valid(json_object_get_string(node))
        || !json_object_is_type(settings, json_type_object)) {
        json_object_put(params);
        return;
    }
    const char *name = json_object_get_string(node);
    struct chain_template *t;
    error = shadow_fix_set(shadow[which], production[which], production[which]->name,
                           name, settings, &t);
    if (error) {
        vnet_error_destroy(error);
        json_object_put(params);
        return;
    }
    check_kept_graph(t, production[which]);
    int idx = chain_template_find_node(t, name);
    fuzz_check(idx >= 0, "the NF set exists");
    json_object_object_foreach(settings, key, value) {
        check_setting(&t->nodes[idx], key, json_object_get_string(value));
    }
    chain_template_destroy(t);
    json_object_put(params);
}

static void
fuzz_edit(int which, const char *text)
{
    struct chain_template *t;
    struct vnet_error *error = shadow_fix_edit(shadow[which], production[which],
                                               production[which]->name, "fix.json",
                                               text, strlen(text), &t);
    if (error) {
        fuzz_check(!strncmp(error->message, "fix.json: ", 10), "errors name the file");
        vnet_error_destroy(error);
        return;
    }
    check_kept_graph(t, production[which]);
    struct json_object *patch, *nodes;
    fuzz_check(!jv_parse(text, strlen(text), &patch)
               && json_object_object_get_ex(patch, "nodes", &nodes),
               "an accepted patch parses");
    for (size_t i = 0; i < t->n_nodes; i++) {
        const char *name = t->nodes[i].name;
        if (json_object_object_get_ex(nodes, name, NULL)) {
            continue;
        }
        struct json_object *a = node_json(t, name), *b = node_json(shadow[which], name);
        fuzz_check(json_object_equal(a, b), "NFs the patch does not name stay");
        json_object_put(a);
        json_object_put(b);
    }
    json_object_put(patch);
    chain_template_destroy(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size) {
        return 0;
    }
    int which = (data[0] & 2) >> 1;
    char *text = fuzz_strndup(data + 1, size - 1);
    if (data[0] & 1) {
        fuzz_edit(which, text);
    } else {
        fuzz_set(which, text, size - 1);
    }
    free(text);
    return 0;
}
