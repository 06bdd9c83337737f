/* Tests monitor/agent-topology.c: option parsing with clear errors, and the
 * topology.json of dumps, where unmirrored NFs are contracted out of the graph. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/agent-topology.h"

static void
build(struct agent_topology *t, const char *const *ports, size_t n_ports)
{
    memset(t, 0, sizeof *t);
    const char *nfs[] = { "fw=200000,qcap=1024,type=firewall", "nat=150000,type=nat",
                          "vpn=100000" };
    const char *edges[] = { "ingress:fw", "fw:nat", "nat:vpn", "vpn:egress" };
    for (size_t i = 0; i < 3; i++) {
        assert_null(agent_topology_add_nf(t, nfs[i]));
    }
    for (size_t i = 0; i < 4; i++) {
        assert_null(agent_topology_add_edge(t, edges[i]));
    }
    for (size_t i = 0; i < n_ports; i++) {
        assert_null(agent_topology_add_port(t, ports[i]));
    }
    char *error = agent_topology_finish(t);
    if (error) {
        fail_msg("%s", error);
    }
}

static const char *
edges_text(struct json_object *topo)
{
    return json_object_to_json_string_ext(json_object_object_get(topo, "edges"),
                                          JSON_C_TO_STRING_PLAIN);
}

static void
test_all_mirrored(void **state)
{
    const char *ports[] = { "a=fw:in", "b=fw:out", "c=nat:in", "d=nat:out", "e=vpn:in",
                            "f=vpn:out", "g=@ingress" };
    struct agent_topology t;
    build(&t, ports, 7);
    struct json_object *j = agent_topology_to_json(&t);
    assert_string_equal(edges_text(j), "[[\"ingress\",\"fw\"],[\"fw\",\"nat\"],"
                        "[\"nat\",\"vpn\"],[\"vpn\",\"egress\"]]");
    struct json_object *nat = json_object_array_get_idx(json_object_object_get(j, "nfs"),
                                                        1);
    assert_string_equal(json_object_get_string(json_object_object_get(nat, "type")),
                        "nat");
    assert_string_equal(json_object_get_string(json_object_object_get(
        json_object_object_get(json_object_object_get(j, "captures"), "vpn"), "out")),
        "vpn.out.pcap");
    json_object_put(j);
    agent_topology_destroy(&t);
}

static void
test_contraction(void **state)
{
    const char *ports[] = { "c=nat:in", "d=nat:out" };
    struct agent_topology t;
    build(&t, ports, 2);
    struct json_object *j = agent_topology_to_json(&t);
    assert_string_equal(edges_text(j), "[[\"ingress\",\"nat\"],[\"nat\",\"egress\"]]");
    assert_int_equal(json_object_array_length(json_object_object_get(j, "nfs")), 1);
    json_object_put(j);
    agent_topology_destroy(&t);
}

static void
test_errors(void **state)
{
    struct agent_topology t;
    memset(&t, 0, sizeof t);
    char *e = agent_topology_add_nf(&t, "fw");
    assert_string_equal(e, "--nf 'fw': expected NAME=PEAK_PPS[,qcap=N][,type=T]");
    free(e);
    e = agent_topology_add_nf(&t, "fw=fast");
    assert_string_equal(e, "--nf 'fw=fast': expected a peak rate in packets/s");
    free(e);
    assert_null(agent_topology_add_nf(&t, "fw=10"));
    e = agent_topology_add_nf(&t, "fw=10");
    assert_string_equal(e, "--nf 'fw=10': bad or duplicate NF name");
    free(e);
    e = agent_topology_add_edge(&t, "fw:ids");
    assert_non_null(strstr(e, "unknown endpoint"));
    free(e);
    e = agent_topology_add_port(&t, "eth0=fw:sideways");
    assert_non_null(strstr(e, "expected SOURCE=NF:in or SOURCE=NF:out"));
    free(e);
    e = agent_topology_add_port(&t, "eth0=@middle");
    assert_non_null(strstr(e, "expected @ingress, @exit0 or @exit1"));
    free(e);
    assert_null(agent_topology_add_port(&t, "eth0=fw:in"));
    e = agent_topology_finish(&t);
    assert_string_equal(e, "NF 'fw' needs both an :in and an :out port");
    free(e);
    agent_topology_destroy(&t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_mirrored),
        cmocka_unit_test(test_contraction),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
