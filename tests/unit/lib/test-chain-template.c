/* Tests lib/chain-template.c: the shipped templates parse, and each kind of mistake
 * yields an error naming the file, the JSON path and what was expected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "lib/chain-template.h"
#include "lib/error.h"
#include "lib/util.h"

static struct json_object *
load_json(const char *name)
{
    char *path = vnet_xasprintf("%s/templates/chains/%s", VNET_SOURCE_DIR, name);
    struct json_object *obj = json_object_from_file(path);
    assert_non_null(obj);
    free(path);
    return obj;
}

static void
test_shipped_templates(void **state)
{
    static const char *const files[] = { "fw-nat-vpn.json", "lb-2fw-vpn.json" };
    for (size_t i = 0; i < VNET_ARRAY_SIZE(files); i++) {
        char *path = vnet_xasprintf("%s/templates/chains/%s", VNET_SOURCE_DIR, files[i]);
        struct chain_template *t = NULL;
        struct vnet_error *error = chain_template_load_file(path, &t);
        if (error) {
            fail_msg("%s", error->message);
        }
        assert_non_null(t);
        chain_template_destroy(t);
        free(path);
    }
}

static void
test_chain_graph(void **state)
{
    struct json_object *obj = load_json("fw-nat-vpn.json");
    struct chain_template *t;
    assert_null(chain_template_from_json("fw-nat-vpn.json", obj, &t));
    assert_int_equal(t->n_nodes, 3);
    assert_string_equal(t->nodes[0].name, "fw");
    assert_string_equal(t->nodes[1].mode, "nat");
    assert_int_equal(t->nodes[1].peak_pps, 150000);
    assert_int_equal(t->n_edges, 4);
    assert_int_equal(t->edges[0].from, CHAIN_EP_INGRESS);
    assert_int_equal(t->edges[0].to, 0);
    assert_int_equal(t->edges[3].from, 2);
    assert_int_equal(t->edges[3].to, CHAIN_EP_EGRESS);
    assert_int_equal(t->source_ip, (10u << 24) | (70u << 16) | 10);
    assert_int_equal(t->prefix_len, 24);
    chain_template_destroy(t);
    json_object_put(obj);
}

/* Edges listed out of order still give nodes in topological order. */
static void
test_dag_topological_order(void **state)
{
    struct json_object *obj = load_json("lb-2fw-vpn.json");
    struct json_object *nodes = json_object_object_get(obj, "nodes");
    struct json_object *reordered = json_object_new_array();
    for (int i = 3; i >= 0; i--) {
        json_object_array_add(reordered,
                              json_object_get(json_object_array_get_idx(nodes, i)));
    }
    json_object_object_add(obj, "nodes", reordered);
    struct chain_template *t;
    struct vnet_error *error = chain_template_from_json("x.json", obj, &t);
    if (error) {
        fail_msg("%s", error->message);
    }
    assert_string_equal(t->nodes[0].name, "lb");
    assert_string_equal(t->nodes[3].name, "vpn");
    for (size_t e = 0; e < t->n_edges; e++) {
        if (t->edges[e].from >= 0 && t->edges[e].to >= 0) {
            assert_true(t->edges[e].from < t->edges[e].to);
        }
    }
    chain_template_destroy(t);
    json_object_put(obj);
}

static void
test_round_trip(void **state)
{
    struct json_object *obj = load_json("lb-2fw-vpn.json");
    struct chain_template *t, *t2;
    assert_null(chain_template_from_json("a", obj, &t));
    struct json_object *canon = chain_template_to_json(t);
    assert_null(chain_template_from_json("b", canon, &t2));
    struct json_object *canon2 = chain_template_to_json(t2);
    assert_string_equal(json_object_to_json_string(canon),
                        json_object_to_json_string(canon2));
    struct chain_template *t3 = chain_template_clone(t2);
    assert_string_equal(t3->nodes[2].args[1], t->nodes[2].args[1]);
    chain_template_destroy(t3);
    json_object_put(canon);
    json_object_put(canon2);
    chain_template_destroy(t);
    chain_template_destroy(t2);
    json_object_put(obj);
}

/* Sets 'member' (a dotted path such as "nodes.1.cpus"; NULL 'value_json' removes
 * it) in fw-nat-vpn.json and returns the parse error message (must fail). */
static char *
error_for(const char *member, const char *value_json)
{
    struct json_object *obj = load_json("fw-nat-vpn.json");
    struct json_object *value = value_json ? json_tokener_parse(value_json) : NULL;
    if (value_json && !value && strcmp(value_json, "null")) {
        fail_msg("bad test JSON %s", value_json);
    }
    char *copy = vnet_xstrdup(member);
    struct json_object *target = obj;
    char *save = NULL, *last = NULL;
    for (char *tok = strtok_r(copy, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
        if (last) {
            if (json_object_is_type(target, json_type_array)) {
                target = json_object_array_get_idx(target,
                                                   (size_t) strtoul(last, NULL, 10));
            } else {
                target = json_object_object_get(target, last);
            }
        }
        last = tok;
    }
    if (!value_json) {
        json_object_object_del(target, last);
    } else {
        json_object_object_add(target, last, value);
    }
    free(copy);

    const char *text = json_object_to_json_string(obj);
    struct chain_template *t = NULL;
    struct vnet_error *error = chain_template_parse("fw-nat.json", text, strlen(text), &t);
    json_object_put(obj);
    if (!error) {
        chain_template_destroy(t);
        fail_msg("'%s' = %s was accepted", member, value_json ? value_json : "(removed)");
    }
    char *msg = vnet_xstrdup(error->message);
    assert_string_equal(error->tag, VNET_ERR_INVALID);
    vnet_error_destroy(error);
    return msg;
}

static void
expect_error(const char *member, const char *value, const char *expected)
{
    char *msg = error_for(member, value);
    if (strcmp(msg, expected)) {
        fail_msg("for %s = %s\n  got:      %s\n  expected: %s", member,
                 value ? value : "(removed)", msg, expected);
    }
    free(msg);
}

static void
test_bad_fields(void **state)
{
    expect_error("nodes.1.cpus", "\"two\"",
                 "fw-nat.json: $.nodes[1].cpus: expected integer 1..64, got \"two\"");
    expect_error("nodes.0.cpus", "0",
                 "fw-nat.json: $.nodes[0].cpus: expected integer 1..64, got 0");
    expect_error("nodes.0.cpus", "1.5",
                 "fw-nat.json: $.nodes[0].cpus: expected integer 1..64, got 1.5");
    expect_error("nodes.2.memory", "8",
                 "fw-nat.json: $.nodes[2].memory: expected integer 16..1048576, got 8");
    expect_error("nodes.0.name", "\"Fw\"",
                 "fw-nat.json: $.nodes[0].name: expected a name matching "
                 "[a-z0-9][a-z0-9-]{0,23}, got \"Fw\"");
    expect_error("nodes.0.name", "\"-fw\"",
                 "fw-nat.json: $.nodes[0].name: expected a name matching "
                 "[a-z0-9][a-z0-9-]{0,23}, got \"-fw\"");
    expect_error("nodes.0.name", "\"abcdefghijklmnopqrstuvwxy\"",
                 "fw-nat.json: $.nodes[0].name: expected a name matching "
                 "[a-z0-9][a-z0-9-]{0,23}, got \"abcdefghijklmnopqrstuvwxy\"");
    expect_error("nodes.0.name", "\"ingress\"",
                 "fw-nat.json: $.nodes[0].name: \"ingress\" is reserved for the "
                 "chain's endpoints");
    expect_error("nodes.0.name", "\"sink\"",
                 "fw-nat.json: $.nodes[0].name: \"sink\" is reserved for the "
                 "chain's endpoints");
    expect_error("nodes.1.name", "\"fw\"",
                 "fw-nat.json: $.nodes[1].name: duplicate node name \"fw\"");
    expect_error("nodes.0.kind", "\"docker\"",
                 "fw-nat.json: $.nodes[0].kind: expected \"lxc\" or \"qemu\", got "
                 "\"docker\"");
    expect_error("nodes.0.nf", NULL,
                 "fw-nat.json: $.nodes[0].nf: required field is missing");
    expect_error("nodes.0.nf.program", "\"vnet-nf; rm -rf /\"",
                 "fw-nat.json: $.nodes[0].nf.program: expected a program name or "
                 "absolute path without spaces or shell characters, got "
                 "\"vnet-nf; rm -rf /\"");
    expect_error("nodes.0.nf.args", "[\"ok\", 3]",
                 "fw-nat.json: $.nodes[0].nf.args[1]: expected a string, got 3");
    expect_error("nodes.0.nf.peak_pps", "-5",
                 "fw-nat.json: $.nodes[0].nf.peak_pps: expected integer "
                 "1..100000000, got -5");
    expect_error("nodes.0.nf.color", "\"red\"",
                 "fw-nat.json: $.nodes[0].nf.color: unknown field (expected one of: "
                 "program, mode, args, peak_pps, queue)");
    expect_error("nodes", "[]",
                 "fw-nat.json: $.nodes: expected an array of 1..32 elements, got an "
                 "array of 0");
    expect_error("name", "\"fw nat\"",
                 "fw-nat.json: $.name: expected a name matching "
                 "[a-z0-9][a-z0-9-]{0,23}, got \"fw nat\"");
    expect_error("name", NULL, "fw-nat.json: $.name: required field is missing");
    expect_error("bridge.name", "\"a-very-long-bridge\"",
                 "fw-nat.json: $.bridge.name: expected at most 15 characters (a bridge "
                 "is a network device), got \"a-very-long-bridge\"");
    expect_error("bridge.datapath", "\"dpdk\"",
                 "fw-nat.json: $.bridge.datapath: expected \"auto\", \"netdev\" or "
                 "\"system\", got \"dpdk\"");
    expect_error("addressing.subnet", "\"10.70.0.0\"",
                 "fw-nat.json: $.addressing.subnet: expected an IPv4 prefix "
                 "a.b.c.d/8..30, got \"10.70.0.0\"");
    expect_error("addressing.subnet", "\"10.70.0.1/24\"",
                 "fw-nat.json: $.addressing.subnet: '10.70.0.1/24' has host bits set");
    expect_error("addressing.source", "\"10.71.0.1\"",
                 "fw-nat.json: $.addressing.source: expected a host address inside "
                 "10.70.0.0/24, got \"10.71.0.1\"");
    expect_error("addressing.sink", "\"10.70.0.10\"",
                 "fw-nat.json: $.addressing.sink: expected an address different from "
                 "the source's, got \"10.70.0.10\"");
    expect_error("addressing.sink", "\"10.70.0.255\"",
                 "fw-nat.json: $.addressing.sink: expected a host address inside "
                 "10.70.0.0/24, got \"10.70.0.255\"");
    expect_error("extra", "1",
                 "fw-nat.json: $.extra: unknown field (expected one of: name, "
                 "description, bridge, addressing, nodes, graph)");
}

static void
test_bad_graphs(void **state)
{
    expect_error("graph", "{\"chain\": [\"fw\", \"nat\"]}",
                 "fw-nat.json: $.nodes[2]: node \"vpn\" is not part of the graph");
    expect_error("graph", "{\"chain\": [\"fw\", \"nat\", \"vpn\", \"ids\"]}",
                 "fw-nat.json: $.graph.chain[3]: expected \"ingress\", \"egress\" or "
                 "the name of a node in $.nodes, got \"ids\"");
    expect_error("graph", "{\"chain\": [\"ingress\", \"fw\"]}",
                 "fw-nat.json: $.graph.chain[0]: the chain lists nodes only; ingress "
                 "and egress are implied at its ends");
    expect_error("graph", "{}",
                 "fw-nat.json: $.graph: expected exactly one of \"chain\" (an ordered "
                 "list of node names) or \"edges\" (pairs of endpoints)");
    expect_error("graph", "{\"edges\": [[\"ingress\", \"fw\"], [\"fw\", \"nat\"], "
                 "[\"nat\", \"vpn\"], [\"vpn\", \"fw\"], [\"vpn\", \"egress\"]]}",
                 "fw-nat.json: $.graph: the graph has a cycle through \"fw\"; expected "
                 "a DAG");
    expect_error("graph", "{\"edges\": [[\"ingress\", \"fw\"], [\"fw\", \"egress\"], "
                 "[\"nat\", \"vpn\"], [\"vpn\", \"egress\"]]}",
                 "fw-nat.json: $.graph: node \"nat\" cannot be reached from ingress");
    expect_error("graph", "{\"edges\": [[\"ingress\", \"fw\"], [\"fw\", \"egress\"], "
                 "[\"fw\", \"nat\"], [\"nat\", \"vpn\"]]}",
                 "fw-nat.json: $.graph: node \"nat\" has no path to egress");
    expect_error("graph", "{\"edges\": [[\"egress\", \"fw\"]]}",
                 "fw-nat.json: $.graph.edges[0][0]: \"egress\" cannot be the start of "
                 "an edge");
    expect_error("graph", "{\"edges\": [[\"fw\", \"fw\"]]}",
                 "fw-nat.json: $.graph.edges[0]: an edge from \"fw\" to itself makes a "
                 "cycle");
    expect_error("graph", "{\"edges\": [[\"ingress\", \"egress\"]]}",
                 "fw-nat.json: $.graph.edges[0]: an edge from ingress straight to "
                 "egress bypasses every NF");
    expect_error("graph", "{\"edges\": [[\"ingress\", \"fw\"], [\"ingress\", \"fw\"]]}",
                 "fw-nat.json: $.graph.edges[1]: duplicate edge");
    expect_error("graph", "{\"edges\": [[\"ingress\"]]}",
                 "fw-nat.json: $.graph.edges[0]: expected a pair [\"from\", \"to\"], "
                 "got an array of 1");
}

static void
test_not_json(void **state)
{
    static const struct { const char *text, *expected; } cases[] = {
        { "", "t.json: invalid JSON at line 1, column 1: empty document" },
        { "{\"name\": ", "t.json: invalid JSON at line 1, column 10: unexpected end "
          "of input" },
        { "{\n  \"name\": nope}", "t.json: invalid JSON at line 2, column 12: "
          "null expected" },
        { "{\"name\": 12", "t.json: invalid JSON at line 1, column 12: unexpected "
          "end of input" },
        { "{} {}", "t.json: invalid JSON at line 1, column 4: unexpected character" },
        { "{}\n\nx", "t.json: invalid JSON at line 3, column 1: unexpected character" },
        { "[1]", "t.json: $: expected an object, got an array of 1" },
    };
    for (size_t i = 0; i < VNET_ARRAY_SIZE(cases); i++) {
        struct chain_template *t;
        struct vnet_error *error = chain_template_parse("t.json", cases[i].text,
                                                        strlen(cases[i].text), &t);
        assert_non_null(error);
        if (strcmp(error->message, cases[i].expected)) {
            fail_msg("for %s\n  got:      %s\n  expected: %s", cases[i].text,
                     error->message, cases[i].expected);
        }
        vnet_error_destroy(error);
    }
}

static void
test_missing_file(void **state)
{
    struct chain_template *t;
    struct vnet_error *error = chain_template_load_file("/nonexistent/x.json", &t);
    assert_non_null(error);
    assert_string_equal(error->message, "/nonexistent/x.json: No such file or directory");
    assert_string_equal(error->tag, VNET_ERR_NOT_FOUND);
    vnet_error_destroy(error);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_templates),
        cmocka_unit_test(test_chain_graph),
        cmocka_unit_test(test_dag_topological_order),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bad_fields),
        cmocka_unit_test(test_bad_graphs),
        cmocka_unit_test(test_not_json),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
