/* Tests diag/topology.c: a valid topology.json with its graph, classes, types and
 * rules, and each kind of mistake with the exact message (file, JSON path, what was
 * expected). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag/topology.h"
#include "lib/error.h"
#include "lib/util.h"

#define CAPS3                                                                   \
    "\"captures\": {\"fw\": {\"in\": \"fw.in.pcap\", \"out\": \"fw.out.pcap\"}, "     \
    "\"nat\": {\"in\": \"nat.in.pcap\", \"out\": \"nat.out.pcap\"}, "                 \
    "\"vpn\": {\"in\": \"vpn.in.pcap\", \"out\": \"vpn.out.pcap\"}}"
#define NFS3 "\"nfs\": [{\"name\": \"fw\"}, {\"name\": \"nat\"}, {\"name\": \"vpn\"}]"
#define CHAIN3                                                                  \
    "\"edges\": [[\"ingress\", \"fw\"], [\"fw\", \"nat\"], [\"nat\", \"vpn\"], "   \
    "[\"vpn\", \"egress\"]]"

static const char good[] =
    "{\"nfs\": [{\"name\": \"fw\", \"peak_pps\": 1500000, \"qcap\": 1024, "
    "\"type\": \"firewall\", \"policy_drops\": [{\"proto\": \"udp\", \"dport\": 5060, "
    "\"src\": \"10.1.0.0/16\"}, {\"proto\": 47, \"sport\": \"1000-2000\", "
    "\"dst\": \"192.168.1.7\"}]},"
    " {\"name\": \"nat\", \"peak_pps\": 1.2e6, \"type\": \"nat\"},"
    " {\"name\": \"vpn\", \"class\": \"vpn\", \"fifo\": false},"
    " {\"name\": \"mon\", \"type\": \"firewall\", \"class\": \"forward\"}],"
    " \"edges\": [[\"ingress\", \"fw\"], [\"fw\", \"nat\"], [\"nat\", \"vpn\"],"
    " [\"vpn\", \"egress\"], [\"ingress\", \"mon\"], [\"mon\", \"vpn\"]],"
    " \"captures\": {\"fw\": {\"in\": \"fw.in.pcap\", \"out\": \"fw.out.pcap\"},"
    " \"nat\": {\"in\": \"nat.in.pcap\", \"out\": \"sub/nat.out.pcap\"},"
    " \"vpn\": {\"in\": \"vpn.in.pcap\", \"out\": \"vpn.out.pcap\"},"
    " \"mon\": {\"in\": \"mon.in.pcap\", \"out\": \"mon.out.pcap\"}}}";

static struct topology *
parse_ok(const char *text)
{
    struct json_object *obj = json_tokener_parse(text);
    assert_non_null(obj);
    struct topology *t = NULL;
    struct vnet_error *error = topology_from_json("/trace", obj, false, &t);
    if (error) {
        fail_msg("%s", error->message);
    }
    json_object_put(obj);
    return t;
}

static void
expect_error(const char *text, const char *want)
{
    struct json_object *obj = json_tokener_parse(text);
    if (!obj) {
        fail_msg("bad test JSON: %s", text);
    }
    struct topology *t = NULL;
    struct vnet_error *error = topology_from_json("/trace", obj, false, &t);
    json_object_put(obj);
    if (!error) {
        topology_destroy(t);
        fail_msg("no error for %s (expected: %s)", text, want);
    }
    assert_null(t);
    assert_string_equal(error->message, want);
    vnet_error_destroy(error);
}

static void
test_good(void **state)
{
    struct topology *t = parse_ok(good);
    assert_int_equal(t->n_nfs, 5);
    assert_string_equal(t->dir, "/trace");
    assert_string_equal(t->nfs[0].name, "source");
    int fw = topology_find_nf(t, "fw"), nat = topology_find_nf(t, "nat");
    int vpn = topology_find_nf(t, "vpn"), mon = topology_find_nf(t, "mon");
    assert_int_equal(fw, 1);
    assert_int_equal(mon, 4);
    assert_int_equal(topology_find_nf(t, "nope"), -1);

    assert_int_equal(t->nfs[fw].peak_pps, 1500000);
    assert_int_equal(t->nfs[fw].qcap, 1024);
    assert_int_equal(t->nfs[fw].cls, MATCH_CONTENT);
    assert_true(t->nfs[fw].fifo);
    assert_int_equal(t->nfs[nat].peak_pps, 1200000);
    assert_int_equal(t->nfs[nat].cls, MATCH_NAT);
    assert_int_equal(t->nfs[nat].qcap, 0);
    assert_int_equal(t->nfs[vpn].cls, MATCH_KEYLESS);
    assert_false(t->nfs[vpn].fifo);
    assert_int_equal(t->nfs[vpn].peak_pps, 0);
    assert_string_equal(t->nfs[vpn].type, "vpn");
    assert_int_equal(t->nfs[mon].cls, MATCH_CONTENT);
    /* Same type, same id. */
    assert_int_equal(t->nfs[fw].type_id, 1);
    assert_int_equal(t->nfs[nat].type_id, 2);
    assert_int_equal(t->nfs[vpn].type_id, 3);
    assert_int_equal(t->nfs[mon].type_id, 1);

    /* The DAG: vpn has two predecessors, fw and mon one each (ingress). */
    assert_int_equal(t->nfs[fw].n_preds, 1);
    assert_int_equal(t->nfs[fw].preds[0], NF_SOURCE);
    assert_int_equal(t->nfs[fw].n_succs, 1);
    assert_int_equal(t->nfs[fw].succs[0], nat);
    assert_int_equal(t->nfs[vpn].n_preds, 2);
    assert_int_equal(t->nfs[vpn].preds[0], nat);
    assert_int_equal(t->nfs[vpn].preds[1], mon);
    assert_int_equal(t->nfs[vpn].succs[0], NF_EGRESS);
    /* Topological order: every NF after its predecessors. */
    int pos[5];
    for (int k = 0; k < 4; k++) {
        pos[t->order[k]] = k;
    }
    assert_true(pos[fw] < pos[nat] && pos[nat] < pos[vpn] && pos[mon] < pos[vpn]);

    assert_string_equal(t->nfs[nat].out_path, "/trace/sub/nat.out.pcap");
    assert_string_equal(t->nfs[nat].out_file, "sub/nat.out.pcap");

    /* Rules: udp dport 5060 from 10.1/16; proto 47 sport 1000-2000 to one host. */
    assert_int_equal(t->nfs[fw].n_rules, 2);
    const struct match_rule *r = t->nfs[fw].rules;
    struct flow5 sip_flow = { 0x0a010203, 0x08080808, 4000, 5060, 17 };
    assert_true(match_rule_matches(&r[0], &sip_flow));
    sip_flow.sip = 0x0a020203;
    assert_false(match_rule_matches(&r[0], &sip_flow));
    sip_flow.sip = 0x0a010203;
    sip_flow.proto = 6;
    assert_false(match_rule_matches(&r[0], &sip_flow));
    struct flow5 gre = { 1, 0xc0a80107, 1500, 9, 47 };
    assert_true(match_rule_matches(&r[1], &gre));
    gre.sport = 2001;
    assert_false(match_rule_matches(&r[1], &gre));

    topology_destroy(t);

    /* Traffic bypassing every captured NF (a contracted monitor dump). */
    t = parse_ok("{" NFS3 ", \"edges\": [[\"ingress\", \"fw\"], [\"fw\", \"nat\"], "
                 "[\"nat\", \"vpn\"], [\"vpn\", \"egress\"], [\"ingress\", "
                 "\"egress\"]], " CAPS3 "}");
    assert_int_equal(t->nfs[1].n_preds, 1);
    assert_int_equal(t->nfs[3].n_succs, 1);
    topology_destroy(t);
    t = parse_ok(good);

    /* The matcher's view. */
    struct match_nf m[5];
    topology_to_match(t, m);
    assert_string_equal(m[nat].name, "nat");
    assert_true(m[nat].r_peak == 1200000 / 1e9);
    assert_int_equal(m[nat].cls, MATCH_NAT);
    assert_int_equal(m[vpn].n_preds, 2);
    assert_int_equal(m[fw].n_rules, 2);
    topology_destroy(t);
}

static void
test_bad_nfs(void **state)
{
    expect_error("[]", "$: expected an object, got an array of 0");
    expect_error("{" NFS3 ", " CHAIN3 ", " CAPS3 ", \"links\": []}",
                 "$.links: unknown field (expected one of: nfs, edges, captures)");
    expect_error("{" CHAIN3 ", " CAPS3 "}", "$.nfs: required field is missing");
    expect_error("{\"nfs\": [], " CHAIN3 ", " CAPS3 "}",
                 "$.nfs: expected an array of 1..64 elements, got an array of 0");
    expect_error("{\"nfs\": [{\"name\": \"fw\"}, {\"name\": \"fw\"}], " CHAIN3 ", "
                 CAPS3 "}", "$.nfs[1].name: duplicate NF name \"fw\" (also $.nfs[0])");
    expect_error("{\"nfs\": [{\"name\": \"Fw\"}], " CHAIN3 ", " CAPS3 "}",
                 "$.nfs[0].name: expected a name matching [a-z0-9][a-z0-9-]{0,23}, "
                 "got \"Fw\"");
    expect_error("{\"nfs\": [{\"name\": \"egress\"}], " CHAIN3 ", " CAPS3 "}",
                 "$.nfs[0].name: \"egress\" is reserved (the graph's endpoints are "
                 "\"ingress\" and \"egress\"); expected another NF name");
    expect_error("{\"nfs\": [{\"peak_pps\": 5}], " CHAIN3 ", " CAPS3 "}",
                 "$.nfs[0].name: required field is missing");
    expect_error("{\"nfs\": [{\"name\": \"fw\", \"peak_pps\": 0}], " CHAIN3 ", " CAPS3
                 "}", "$.nfs[0].peak_pps: expected a peak rate in packets/s, 1..1e9, "
                 "got 0");
    expect_error("{\"nfs\": [{\"name\": \"fw\", \"peak_pps\": -3}], " CHAIN3 ", " CAPS3
                 "}", "$.nfs[0].peak_pps: expected a peak rate in packets/s, 1..1e9, "
                 "got -3");
    expect_error("{\"nfs\": [{\"name\": \"fw\", \"peak_pps\": \"fast\"}], " CHAIN3 ", "
                 CAPS3 "}", "$.nfs[0].peak_pps: expected a peak rate in packets/s, "
                 "1..1e9, got \"fast\"");
    expect_error("{\"nfs\": [{\"name\": \"fw\", \"peak_pps\": 2e9}], " CHAIN3 ", "
                 CAPS3 "}", "$.nfs[0].peak_pps: expected a peak rate in packets/s, "
                 "1..1e9, got 2e9");
    expect_error("{\"nfs\": [{\"name\": \"fw\", \"qcap\": 0}], " CHAIN3 ", " CAPS3 "}",
                 "$.nfs[0].qcap: expected integer 1..16777216, got 0");
    expect_error("{\"nfs\": [{\"name\": \"fw\", \"class\": \"router\"}], " CHAIN3 ", "
                 CAPS3 "}", "$.nfs[0].class: expected \"forward\", \"nat\" or \"vpn\", "
                 "got \"router\"");
    expect_error("{\"nfs\": [{\"name\": \"fw\", \"fifo\": 1}], " CHAIN3 ", " CAPS3 "}",
                 "$.nfs[0].fifo: expected true or false, got 1");
    expect_error("{\"nfs\": [{\"name\": \"fw\", \"cpus\": 1}], " CHAIN3 ", " CAPS3 "}",
                 "$.nfs[0].cpus: unknown field (expected one of: name, peak_pps, qcap, "
                 "type, class, fifo, policy_drops)");
    expect_error("{\"nfs\": [{\"name\": \"fw\", \"policy_drops\": [{\"proto\": "
                 "\"sctp\"}]}], " CHAIN3 ", " CAPS3 "}",
                 "$.nfs[0].policy_drops[0].proto: expected \"tcp\", \"udp\", \"icmp\" "
                 "or 0..255, got \"sctp\"");
    expect_error("{\"nfs\": [{\"name\": \"fw\", \"policy_drops\": [{\"src\": "
                 "\"10.0.0.0/33\"}]}], " CHAIN3 ", " CAPS3 "}",
                 "$.nfs[0].policy_drops[0].src: expected an IPv4 address or prefix "
                 "a.b.c.d[/len], got \"10.0.0.0/33\"");
    expect_error("{\"nfs\": [{\"name\": \"fw\", \"policy_drops\": [{\"dport\": "
                 "\"9-3\"}]}], " CHAIN3 ", " CAPS3 "}",
                 "$.nfs[0].policy_drops[0].dport: expected a port 1..65535 or a range "
                 "\"lo-hi\", got \"9-3\"");
}

static void
test_bad_edges(void **state)
{
    expect_error("{" NFS3 ", " CAPS3 "}", "$.edges: required field is missing");
    expect_error("{" NFS3 ", \"edges\": [[\"ingress\", \"fw\"], [\"fw\", \"nta\"]], "
                 CAPS3 "}", "$.edges[1][1]: expected \"ingress\", \"egress\" or an NF "
                 "name from $.nfs, got \"nta\"");
    expect_error("{" NFS3 ", \"edges\": [[\"ingress\", \"fw\", \"nat\"]], " CAPS3 "}",
                 "$.edges[0]: expected a pair [\"from\", \"to\"], got an array of 3");
    expect_error("{" NFS3 ", \"edges\": [[\"egress\", \"fw\"]], " CAPS3 "}",
                 "$.edges[0][0]: \"egress\" cannot start an edge");
    expect_error("{" NFS3 ", \"edges\": [[\"fw\", \"ingress\"]], " CAPS3 "}",
                 "$.edges[0][1]: \"ingress\" cannot end an edge");
    expect_error("{" NFS3 ", \"edges\": [[\"fw\", \"fw\"]], " CAPS3 "}",
                 "$.edges[0]: an edge from \"fw\" to itself makes a cycle");
    expect_error("{" NFS3 ", \"edges\": [[\"ingress\", \"egress\"]], " CAPS3 "}",
                 "$.nfs[0]: NF \"fw\" is in no edge of $.edges; expected it on a path "
                 "from ingress to egress");
    expect_error("{" NFS3 ", \"edges\": [[\"ingress\", \"fw\"], [\"ingress\", "
                 "\"fw\"]], " CAPS3 "}", "$.edges[1]: duplicate of $.edges[0]");
    expect_error("{" NFS3 ", \"edges\": [[\"ingress\", \"fw\"], [\"fw\", \"egress\"], "
                 "[\"nat\", \"egress\"]], " CAPS3 "}",
                 "$.nfs[2]: NF \"vpn\" is in no edge of $.edges; expected it on a path "
                 "from ingress to egress");
    /* fw -> nat -> vpn -> fw, entered from ingress. */
    expect_error("{" NFS3 ", \"edges\": [[\"ingress\", \"fw\"], [\"fw\", \"nat\"], "
                 "[\"nat\", \"vpn\"], [\"vpn\", \"fw\"], [\"vpn\", \"egress\"]], " CAPS3
                 "}", "$.edges: the graph has a cycle (fw -> nat -> vpn -> fw); "
                 "expected a DAG");
    expect_error("{" NFS3 ", \"edges\": [[\"ingress\", \"fw\"], [\"fw\", \"egress\"], "
                 "[\"nat\", \"vpn\"], [\"vpn\", \"nat\"], [\"vpn\", \"egress\"]], "
                 CAPS3 "}", "$.edges: the graph has a cycle (nat -> vpn -> nat); "
                 "expected a DAG");
    expect_error("{" NFS3 ", \"edges\": [[\"ingress\", \"fw\"], [\"fw\", \"egress\"], "
                 "[\"nat\", \"vpn\"], [\"vpn\", \"egress\"]], " CAPS3 "}",
                 "$.edges: NF \"nat\" cannot be reached from ingress");
    expect_error("{" NFS3 ", \"edges\": [[\"ingress\", \"fw\"], [\"fw\", \"nat\"], "
                 "[\"fw\", \"vpn\"], [\"vpn\", \"egress\"]], " CAPS3 "}",
                 "$.edges: NF \"nat\" has no path to egress");
}

static void
test_bad_captures(void **state)
{
    expect_error("{" NFS3 ", " CHAIN3 "}", "$.captures: required field is missing");
    expect_error("{" NFS3 ", " CHAIN3 ", \"captures\": []}",
                 "$.captures: expected an object {\"<nf>\": {\"in\": FILE, \"out\": "
                 "FILE}, ...}, got an array of 0");
    expect_error("{" NFS3 ", " CHAIN3 ", \"captures\": {\"fw\": {\"in\": \"a\", "
                 "\"out\": \"b\"}, \"vpn\": {\"in\": \"c\", \"out\": \"d\"}}}",
                 "$.captures: no capture files for NF \"nat\"; expected \"nat\": "
                 "{\"in\": FILE, \"out\": FILE}");
    expect_error("{" NFS3 ", " CHAIN3 ", \"captures\": {\"ids\": {\"in\": \"a\", "
                 "\"out\": \"b\"}}}",
                 "$.captures.ids: unknown NF \"ids\"; expected an NF name from $.nfs");
    expect_error("{" NFS3 ", " CHAIN3 ", \"captures\": {\"fw\": {\"in\": \"a\"}}}",
                 "$.captures.fw.out: required field is missing");
    expect_error("{" NFS3 ", " CHAIN3 ", \"captures\": {\"fw\": {\"in\": \"a\", "
                 "\"out\": \"b\", \"drops\": 3}}}",
                 "$.captures.fw.drops: unknown field (expected one of: in, out)");
    expect_error("{" NFS3 ", " CHAIN3 ", \"captures\": {\"fw\": {\"in\": "
                 "\"../fw.in.pcap\", \"out\": \"b\"}}}",
                 "$.captures.fw.in: expected a file name inside the trace directory "
                 "(relative, without \"..\"), got \"../fw.in.pcap\"");
    expect_error("{" NFS3 ", " CHAIN3 ", \"captures\": {\"fw\": {\"in\": \"a\", "
                 "\"out\": \"x/../../b\"}}}",
                 "$.captures.fw.out: expected a file name inside the trace directory "
                 "(relative, without \"..\"), got \"x/../../b\"");
    expect_error("{" NFS3 ", " CHAIN3 ", \"captures\": {\"fw\": {\"in\": "
                 "\"/etc/passwd\", \"out\": \"b\"}}}",
                 "$.captures.fw.in: expected a file name inside the trace directory "
                 "(relative, without \"..\"), got \"/etc/passwd\"");
    expect_error("{" NFS3 ", " CHAIN3 ", \"captures\": {\"fw\": {\"in\": \"\", "
                 "\"out\": \"b\"}}}",
                 "$.captures.fw.in: expected a file name inside the trace directory "
                 "(relative, without \"..\"), got \"\"");
    expect_error("{" NFS3 ", " CHAIN3 ", \"captures\": {\"fw\": {\"in\": \"a\", "
                 "\"out\": \"a\"}}}",
                 "$.captures.fw.out: expected a file other than \"in\"'s, got \"a\"");
}

/* ---- Files on disk --------------------------------------------------------------- */

struct fixture {
    char dir[64];
    char outside[64];
};

static int
setup(void **state)
{
    struct fixture *fx = vnet_xzalloc(sizeof *fx);
    vnet_strlcpy(fx->dir, "/tmp/vnet-test-topo-XXXXXX", sizeof fx->dir);
    vnet_strlcpy(fx->outside, "/tmp/vnet-test-topo-out-XXXXXX", sizeof fx->outside);
    assert_non_null(mkdtemp(fx->dir));
    assert_non_null(mkdtemp(fx->outside));
    *state = fx;
    return 0;
}

static void
remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            char *p = vnet_xasprintf("%s/%s", dir, e->d_name);
            struct stat st;
            assert_int_equal(lstat(p, &st), 0);
            if (S_ISDIR(st.st_mode)) {
                remove_tree(p);
            } else {
                assert_int_equal(unlink(p), 0);
            }
            free(p);
        }
    }
    closedir(d);
    assert_int_equal(rmdir(dir), 0);
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;
    remove_tree(fx->dir);
    remove_tree(fx->outside);
    free(fx);
    return 0;
}

static void
write_file(const char *dir, const char *name, const char *text)
{
    char *path = vnet_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(path);
}

static char *
load_error(const char *dir)
{
    struct topology *t = NULL;
    struct vnet_error *error = topology_load(dir, &t);
    if (!error) {
        topology_destroy(t);
        fail_msg("%s loaded", dir);
    }
    char *msg = vnet_xstrdup(error->message);
    vnet_error_destroy(error);
    return msg;
}

static void
test_files(void **state)
{
    struct fixture *fx = *state;
    static const char text[] = "{\"nfs\": [{\"name\": \"fw\"}], \"edges\": "
        "[[\"ingress\", \"fw\"], [\"fw\", \"egress\"]], \"captures\": {\"fw\": "
        "{\"in\": \"fw.in.pcap\", \"out\": \"fw.out.pcap\"}}}";
    char *msg, *want;

    msg = load_error(fx->dir);
    want = vnet_xasprintf("%s/topology.json: missing (a trace directory holds "
                          "topology.json and the pcaps it names)", fx->dir);
    assert_string_equal(msg, want);
    free(msg), free(want);

    char *nodir = vnet_xasprintf("%s/nope", fx->dir);
    msg = load_error(nodir);
    want = vnet_xasprintf("%s: No such file or directory", nodir);
    assert_string_equal(msg, want);
    free(msg), free(want), free(nodir);

    write_file(fx->dir, "topology.json", "{\"nfs\": [\n  {\"name\": \"fw\",}\n]}");
    msg = load_error(fx->dir);
    assert_true(!strncmp(msg, fx->dir, strlen(fx->dir)));
    assert_non_null(strstr(msg, "/topology.json: "));
    assert_non_null(strstr(msg, "line 2"));
    free(msg);

    write_file(fx->dir, "topology.json", text);
    msg = load_error(fx->dir);
    want = vnet_xasprintf("%s/topology.json: $.captures.fw.in: file \"fw.in.pcap\" "
                          "does not exist in %s", fx->dir, fx->dir);
    assert_string_equal(msg, want);
    free(msg), free(want);

    write_file(fx->dir, "fw.in.pcap", "x");
    char *sub = vnet_xasprintf("%s/fw.out.pcap", fx->dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    msg = load_error(fx->dir);
    want = vnet_xasprintf("%s/topology.json: $.captures.fw.out: \"fw.out.pcap\" is not "
                          "a regular file", fx->dir);
    assert_string_equal(msg, want);
    free(msg), free(want);
    assert_int_equal(rmdir(sub), 0);

    /* A symbolic link out of the directory. */
    write_file(fx->outside, "secret.pcap", "x");
    char *target = vnet_xasprintf("%s/secret.pcap", fx->outside);
    assert_int_equal(symlink(target, sub), 0);
    msg = load_error(fx->dir);
    want = vnet_xasprintf("%s/topology.json: $.captures.fw.out: \"fw.out.pcap\" leads "
                          "outside %s (a symbolic link); expected a file inside the "
                          "trace directory", fx->dir, fx->dir);
    assert_string_equal(msg, want);
    free(msg), free(want), free(target);
    assert_int_equal(unlink(sub), 0);

    write_file(fx->dir, "fw.out.pcap", "x");
    char *slashed = vnet_xasprintf("%s//", fx->dir);
    struct topology *t;
    assert_null(topology_load(slashed, &t));
    assert_string_equal(t->dir, fx->dir);
    char *in = vnet_xasprintf("%s/fw.in.pcap", fx->dir);
    assert_string_equal(t->nfs[1].in_path, in);
    topology_destroy(t);
    free(in), free(slashed), free(sub);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad_nfs),
        cmocka_unit_test(test_bad_edges),
        cmocka_unit_test(test_bad_captures),
        cmocka_unit_test_setup_teardown(test_files, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
