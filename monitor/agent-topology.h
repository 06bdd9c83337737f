/* agent-topology.h -- what the monitoring agent knows of its chain.
 *
 * vnetd describes the chain on vnet-monitor's command line: every NF
 * ("--nf fw=200000,qcap=1024,type=firewall"), every service-graph edge
 * ("--edge ingress:fw") and every capture port ("--port m00a=fw:in", the guest
 * NIC receiving the copies of fw's arrivals; with a shadow also "mxi=@ingress",
 * "mx0=@exit0" and "mx1=@exit1": the chain's entry and each side's exit).  The agent turns this into the offline
 * trace format's topology.json for dumps; NFs that are not mirrored are contracted
 * out of the graph, so a dump of some NFs is still a valid DAG between ingress and
 * egress. */
#ifndef MONITOR_AGENT_TOPOLOGY_H
#define MONITOR_AGENT_TOPOLOGY_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

struct agent_nf {
    char *name;
    uint64_t peak_pps;
    uint32_t qcap;
    char *type;                 /* "nat", "firewall", "forward", ... */
    bool mirrored;
};

struct agent_port {
    char *source;               /* interface (or pcap file for replay) */
    char *nf;                   /* NF name, or NULL for a comparison port */
    bool arrivals;              /* "in": packets arriving at the NF */
    char *special;              /* "ingress", "exit0" or "exit1" (with a shadow) */
};

struct agent_topology {
    struct agent_nf *nfs;
    size_t n_nfs;
    char **edge_from, **edge_to;
    size_t n_edges;
    struct agent_port *ports;
    size_t n_ports;
};

/* Parses one option value; returns NULL or a message (caller frees). */
char *agent_topology_add_nf(struct agent_topology *, const char *spec);
char *agent_topology_add_edge(struct agent_topology *, const char *spec);
char *agent_topology_add_port(struct agent_topology *, const char *spec);
/* Checks that ports and edges name known NFs; marks mirrored NFs. */
char *agent_topology_finish(struct agent_topology *);

int agent_topology_find_nf(const struct agent_topology *, const char *name);

/* topology.json for a dump: mirrored NFs only, with captures "<nf>.in.pcap" and
 * "<nf>.out.pcap". */
struct json_object *agent_topology_to_json(const struct agent_topology *);

void agent_topology_destroy(struct agent_topology *);

#endif
