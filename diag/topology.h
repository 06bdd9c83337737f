/* topology.h -- the service graph and capture files of an offline trace directory.
 *
 * DIR/topology.json describes what `vnetctl diagnose --offline DIR` analyses (the
 * format vnet-monitor's dump writes):
 *
 *   {"nfs": [{"name": "fw", "peak_pps": 1500000, "qcap": 1024, "type": "firewall",
 *             "class": "forward", "fifo": true,
 *             "policy_drops": [{"proto": "udp", "src": "10.0.0.0/8",
 *                               "dst": "0.0.0.0/0", "sport": "0-65535",
 *                               "dport": 5060}]}, ...],
 *    "edges": [["ingress", "fw"], ["fw", "nat"], ["nat", "egress"]],
 *    "captures": {"fw": {"in": "fw.in.pcap", "out": "fw.out.pcap"}, ...}}
 *
 *  - "name" follows the name rule of lib/names.h; "ingress" and "egress" are the
 *    graph's reserved endpoints.  Only "name" is required.
 *  - "peak_pps" (packets/s, > 0, at most 1e9) is the NF's peak rate r_f (spec A.3);
 *    without it the diagnosers estimate it or report the NF uncalibrated.
 *  - "qcap" (1..16777216 packets) separates tail drops from internal ones.
 *  - "class" chooses how packets are matched across the NF: "forward" (does not
 *    rewrite headers: content key), "nat" (invariant key and flow mapping) or
 *    "vpn" (encrypts or encapsulates: arrival order).  Without it, "type" decides:
 *    nat/napt/snat/dnat mean "nat", vpn/ipsec/wireguard/tunnel/encap mean "vpn",
 *    anything else "forward".  "type" (a name, default the class) also groups NFs
 *    of one kind (nf_desc.type: equal strings, equal numbers, from 1).
 *  - "fifo" (default true) says the NF serves one queue in order (spec B.5's fast
 *    path); "policy_drops" lists the NF's known deny rules (drops of matching
 *    packets are intended: CONSUMED).  In a rule, "proto" is "tcp", "udp", "icmp"
 *    or 0..255, addresses are "a.b.c.d" or "a.b.c.d/len", ports N or "lo-hi";
 *    every member is optional.
 *  - "edges" make a DAG from ingress to egress: every NF reachable from ingress and
 *    reaching egress, no cycles, no duplicates (["ingress", "egress"], traffic
 *    that passes no captured NF, is accepted and plays no part).
 *  - "captures" names, for every NF and only for those, the pcap/pcapng files of
 *    the packets it received ("in") and sent ("out"): file names relative to DIR
 *    that stay inside it, and exist.
 *
 * Every error names the file, the JSON path and what was expected, e.g.
 *   DIR/topology.json: $.edges[1][1]: expected "ingress", "egress" or an NF
 *   name from $.nfs, got "nta"
 *
 * Ownership: a topology owns everything it points to; topology_destroy() frees it.
 * Pure functions (topology_load() only reads files); thread-safe. */
#ifndef DIAG_TOPOLOGY_H
#define DIAG_TOPOLOGY_H 1

#include <stddef.h>
#include <stdint.h>

#include "diag/match.h"

struct json_object;
struct vnet_error;

#define TOPOLOGY_MAX_NFS 64

struct topology_nf {
    char *name;
    char *type;
    uint32_t type_id;           /* equal types, equal ids (from 1) */
    enum match_class cls;
    uint64_t peak_pps;          /* 0 = unknown */
    uint32_t qcap;              /* 0 = unknown */
    bool fifo;
    uint32_t *preds, *succs;    /* NF ids (1..); NF_SOURCE, NF_EGRESS for the ends */
    size_t n_preds, n_succs;
    struct match_rule *rules;
    size_t n_rules;
    char *in_path, *out_path;   /* DIR/<file> */
    char *in_file, *out_file;   /* as written in topology.json */
};

struct topology {
    char *dir;
    struct topology_nf *nfs;    /* nfs[0] is SOURCE (name "source"); NFs are 1.. */
    size_t n_nfs;
    uint32_t *order;            /* the NF ids in topological order */
};

/* Reads DIR/topology.json, checks it and that its capture files exist.  Returns
 * NULL and '*ret', or an error prefixed with the file's path. */
struct vnet_error *topology_load(const char *dir, struct topology **ret);

/* Checks and converts 'obj' (the parsed topology.json of directory 'dir'); files
 * are checked for existence only when 'check_files'.  Errors carry the JSON path;
 * the caller prefixes the file name. */
struct vnet_error *topology_from_json(const char *dir, struct json_object *obj,
                                      bool check_files, struct topology **ret);

/* Fills 'nfs' (n_nfs entries; nfs[0] unused) for match_create(); the pointers
 * inside borrow from 't'. */
void topology_to_match(const struct topology *t, struct match_nf *nfs);

/* Returns the id of the NF named 'name', or -1. */
int topology_find_nf(const struct topology *, const char *name);

void topology_destroy(struct topology *);

#endif
