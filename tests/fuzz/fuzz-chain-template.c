/* fuzz-chain-template.c -- lib/chain-template.c: the chain template parser that
 * 'vnetctl chain load' and vnetd's state file go through.
 *
 * Input: the template's JSON text (its exact bytes, as chain/load passes a file).
 *
 * Checked, besides memory safety and leaks: an invalid template is an error that
 * names the file; a valid one satisfies what chain-template.h promises (nodes in
 * topological order, every node on a path from ingress to egress, names valid,
 * counts within limits), and its canonical JSON parses again into the same
 * canonical JSON. */
#include <json-c/json.h>
#include <stdbool.h>
#include <string.h>

#include "lib/chain-template.h"
#include "lib/error.h"
#include "lib/names.h"
#include "tests/fuzz/fuzz.h"

static void
check_template(const struct chain_template *t)
{
    fuzz_check(vnet_name_valid(t->name), "chain name");
    fuzz_check(strlen(t->bridge) <= CHAIN_BRIDGE_MAX, "bridge name");
    fuzz_check(t->n_nodes >= 1 && t->n_nodes <= CHAIN_MAX_NODES, "node count");
    for (size_t i = 0; i < t->n_nodes; i++) {
        const struct chain_node *n = &t->nodes[i];
        fuzz_check(vnet_name_valid(n->name), "node name");
        fuzz_check(chain_template_find_node(t, n->name) == (int) i, "unique names");
        fuzz_check(n->cpus >= 1 && n->cpus <= 64 && n->n_args <= CHAIN_MAX_ARGS,
                   "node limits");
    }
    for (size_t e = 0; e < t->n_edges; e++) {
        int from = t->edges[e].from, to = t->edges[e].to;
        bool from_node = from >= 0 && (size_t) from < t->n_nodes;
        bool to_node = to >= 0 && (size_t) to < t->n_nodes;
        fuzz_check(from == CHAIN_EP_INGRESS || from_node, "edge source");
        fuzz_check(to == CHAIN_EP_EGRESS || to_node, "edge target");
        fuzz_check(from < 0 || to < 0 || from < to, "nodes in topological order");
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct chain_template *t;
    struct vnet_error *error = chain_template_parse("fuzz.json", (const char *) data,
                                                    size, &t);
    if (error) {
        fuzz_check(!strncmp(error->message, "fuzz.json: ", 11), "errors name the file");
        vnet_error_destroy(error);
        return 0;
    }
    check_template(t);

    struct json_object *canon = chain_template_to_json(t);
    const char *text = json_object_to_json_string_ext(canon, JSON_C_TO_STRING_PLAIN);
    struct chain_template *again;
    error = chain_template_parse(NULL, text, strlen(text), &again);
    fuzz_check(!error, "the canonical form parses");
    struct json_object *canon2 = chain_template_to_json(again);
    fuzz_check(!strcmp(text, json_object_to_json_string_ext(canon2,
                                                             JSON_C_TO_STRING_PLAIN)),
               "parsing the canonical form yields an equal template");
    json_object_put(canon2);
    json_object_put(canon);
    chain_template_destroy(again);
    chain_template_destroy(t);
    return 0;
}
