#include "vnetd/ovs-adapter.h"

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/vswitch-idl.h"
#include "openvswitch/ofp-bundle.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-match.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/netdev.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/util.h"
#include "openvswitch/vconn.h"
#include "byte-order.h"
#include "flow.h"
#include "ovsdb-idl.h"
#include "smap.h"
#include "timeval.h"
#include "unixctl.h"
#include "jsonrpc.h"
#include "lib/crashpoint.h"
#include "lib/log.h"
#include "lib/util.h"

VNLOG_DEFINE_THIS_MODULE(ovs);

#define OWNER_KEY "vnet-owner"
#define INSTANCE_KEY "vnet-instance"
#define ROLE_KEY "vnet-role"
#define KICK_KEY "vnet-kick"
#define BRIDGE_OWNER "vnetd"
#define AUDIT_INTERVAL_MS 5000
#define RETRY_MS 1000
#define KICK_INTERVAL_MS 2000

static struct vnlog_rl rl = VNLOG_RL_INIT(20, 20);

struct bridge_want {
    char *name, *datapath;
};

struct port_want {
    char *bridge, *name, *chain, *role;
    uint16_t ofport;
    bool keep_only;
};

struct mirror_want {
    char *bridge, *name, *chain, *select_dst, *select_src, *output;
    uint32_t snaplen;
};

struct flowset {
    char *bridge, *chain;
    uint64_t cookie, cookie_mask;
    char **flows;
    size_t n_flows;
    char **ports;
    size_t n_ports;
    bool installed;             /* installed as currently desired */
    bool desired;               /* false: installed earlier, now to be removed */
    char *error;
};

struct ofconn {
    char *bridge;
    struct vconn *vconn;
    long long int retry_at;
};

struct ovs_adapter {
    char *rundir;
    char *instance;
    struct ovsdb_idl *idl;
    struct ovsdb_idl_txn *txn;
    int64_t wait_cfg;               /* waiting for cur_cfg to reach this; 0: none */
    long long int txn_retry_at;
    bool desired_set;
    bool dirty;                     /* desired state changed since last diff */
    unsigned int last_seqno;

    struct bridge_want *bridges;
    size_t n_bridges;
    struct port_want *ports;
    size_t n_ports;
    struct flowset *flowsets;
    size_t n_flowsets;
    struct mirror_want *mirrors;
    size_t n_mirrors;
    bool revalidate;                /* mirrors changed: purge datapath flows */
    unsigned int revalidated_cfg;   /* bumps when a revalidation is done */

    struct ofconn *conns;
    size_t n_conns;
    long long int next_audit;
    long long int next_kick;
    unsigned int kick_seq;
    struct smap ifindexes;      /* port name -> the device's ifindex last seen */
    uint64_t last_bundle_us;
    bool changed;
    bool db_converged;
};

/* ---- helpers -------------------------------------------------------------- */

static bool
row_is_ours(const struct smap *ids, const struct ovs_adapter *a)
{
    const char *inst = smap_get(ids, INSTANCE_KEY);
    return inst && !strcmp(inst, a->instance) && smap_get(ids, OWNER_KEY);
}

static const struct ovsrec_bridge *
find_bridge(const struct ovs_adapter *a, const char *name)
{
    const struct ovsrec_bridge *br;
    OVSREC_BRIDGE_FOR_EACH (br, a->idl) {
        if (!strcmp(br->name, name)) {
            return br;
        }
    }
    return NULL;
}

static const struct ovsrec_port *
find_port(const struct ovs_adapter *a, const char *name,
          const struct ovsrec_bridge **ret_bridge)
{
    const struct ovsrec_bridge *br;
    OVSREC_BRIDGE_FOR_EACH (br, a->idl) {
        for (size_t i = 0; i < br->n_ports; i++) {
            if (!strcmp(br->ports[i]->name, name)) {
                if (ret_bridge) {
                    *ret_bridge = br;
                }
                return br->ports[i];
            }
        }
    }
    return NULL;
}

static const struct ovsrec_interface *
find_iface(const struct ovs_adapter *a, const char *name)
{
    const struct ovsrec_interface *iface;
    OVSREC_INTERFACE_FOR_EACH (iface, a->idl) {
        if (!strcmp(iface->name, name)) {
            return iface;
        }
    }
    return NULL;
}

static const struct port_want *
find_want_port(const struct ovs_adapter *a, const char *name)
{
    for (size_t i = 0; i < a->n_ports; i++) {
        if (!strcmp(a->ports[i].name, name)) {
            return &a->ports[i];
        }
    }
    return NULL;
}

static bool
bridge_wanted(const struct ovs_adapter *a, const char *name)
{
    for (size_t i = 0; i < a->n_bridges; i++) {
        if (!strcmp(a->bridges[i].name, name)) {
            return true;
        }
    }
    return false;
}

static void
set_owner_ids(struct smap *ids, const struct ovs_adapter *a, const char *owner,
              const char *role)
{
    smap_add(ids, OWNER_KEY, owner);
    smap_add(ids, INSTANCE_KEY, a->instance);
    if (role) {
        smap_add(ids, ROLE_KEY, role);
    }
}

/* ---- creation and desired state -------------------------------------------- */

struct ovs_adapter *
ovs_adapter_create(const char *db, const char *rundir, const char *instance)
{
    struct ovs_adapter *a = vnet_xzalloc(sizeof *a);
    a->rundir = vnet_xstrdup(rundir);
    a->instance = vnet_xstrdup(instance);
    a->idl = ovsdb_idl_create(db, &ovsrec_idl_class, true, true);
    smap_init(&a->ifindexes);
    ovsdb_idl_set_probe_interval(a->idl, 5000);
    return a;
}

static void
flowset_free(struct flowset *f)
{
    free(f->bridge);
    free(f->chain);
    for (size_t i = 0; i < f->n_flows; i++) {
        free(f->flows[i]);
    }
    free(f->flows);
    for (size_t i = 0; i < f->n_ports; i++) {
        free(f->ports[i]);
    }
    free(f->ports);
    free(f->error);
}

static void
free_wants(struct ovs_adapter *a)
{
    for (size_t i = 0; i < a->n_bridges; i++) {
        free(a->bridges[i].name);
        free(a->bridges[i].datapath);
    }
    free(a->bridges);
    for (size_t i = 0; i < a->n_ports; i++) {
        free(a->ports[i].bridge);
        free(a->ports[i].name);
        free(a->ports[i].chain);
        free(a->ports[i].role);
    }
    free(a->ports);
    for (size_t i = 0; i < a->n_mirrors; i++) {
        struct mirror_want *m = &a->mirrors[i];
        free(m->bridge);
        free(m->name);
        free(m->chain);
        free(m->select_dst);
        free(m->select_src);
        free(m->output);
    }
    free(a->mirrors);
    a->bridges = NULL;
    a->ports = NULL;
    a->mirrors = NULL;
    a->n_bridges = a->n_ports = a->n_mirrors = 0;
}

void
ovs_adapter_destroy(struct ovs_adapter *a)
{
    if (!a) {
        return;
    }
    if (a->txn) {
        ovsdb_idl_txn_destroy(a->txn);
    }
    ovsdb_idl_destroy(a->idl);
    smap_destroy(&a->ifindexes);
    free_wants(a);
    for (size_t i = 0; i < a->n_flowsets; i++) {
        flowset_free(&a->flowsets[i]);
    }
    free(a->flowsets);
    for (size_t i = 0; i < a->n_conns; i++) {
        vconn_close(a->conns[i].vconn);
        free(a->conns[i].bridge);
    }
    free(a->conns);
    free(a->rundir);
    free(a->instance);
    free(a);
}

static bool
same_strings(char **a, size_t na, const char *const *b, size_t nb)
{
    if (na != nb) {
        return false;
    }
    for (size_t i = 0; i < na; i++) {
        if (strcmp(a[i], b[i])) {
            return false;
        }
    }
    return true;
}

static char **
dup_strings(const char *const *s, size_t n)
{
    char **d = vnet_xcalloc(n ? n : 1, sizeof *d);
    for (size_t i = 0; i < n; i++) {
        d[i] = vnet_xstrdup(s[i]);
    }
    return d;
}

void
ovs_adapter_set_desired(struct ovs_adapter *a,
                        const struct ovs_bridge_spec *bridges, size_t n_bridges,
                        const struct ovs_port_spec *ports, size_t n_ports,
                        const struct ovs_flowset_spec *sets, size_t n_sets,
                        const struct ovs_mirror_spec *mirrors, size_t n_mirrors)
{
    free_wants(a);
    a->mirrors = vnet_xcalloc(n_mirrors + 1, sizeof *a->mirrors);
    for (size_t i = 0; i < n_mirrors; i++) {
        const struct ovs_mirror_spec *m = &mirrors[i];
        a->mirrors[i] = (struct mirror_want) {
            vnet_xstrdup(m->bridge), vnet_xstrdup(m->name), vnet_xstrdup(m->chain),
            m->select_dst ? vnet_xstrdup(m->select_dst) : NULL,
            m->select_src ? vnet_xstrdup(m->select_src) : NULL,
            vnet_xstrdup(m->output), m->snaplen,
        };
    }
    a->n_mirrors = n_mirrors;
    a->bridges = vnet_xcalloc(n_bridges + 1, sizeof *a->bridges);
    for (size_t i = 0; i < n_bridges; i++) {
        a->bridges[i].name = vnet_xstrdup(bridges[i].name);
        a->bridges[i].datapath = vnet_xstrdup(bridges[i].datapath);
    }
    a->n_bridges = n_bridges;
    a->ports = vnet_xcalloc(n_ports + 1, sizeof *a->ports);
    for (size_t i = 0; i < n_ports; i++) {
        a->ports[i].bridge = vnet_xstrdup(ports[i].bridge);
        a->ports[i].name = vnet_xstrdup(ports[i].name);
        a->ports[i].chain = vnet_xstrdup(ports[i].chain);
        a->ports[i].role = vnet_xstrdup(ports[i].role);
        a->ports[i].ofport = ports[i].ofport;
        a->ports[i].keep_only = ports[i].keep_only;
    }
    a->n_ports = n_ports;

    /* Flow sets keep their installed state when unchanged. */
    for (size_t i = 0; i < a->n_flowsets; i++) {
        a->flowsets[i].desired = false;
    }
    for (size_t k = 0; k < n_sets; k++) {
        const struct ovs_flowset_spec *s = &sets[k];
        struct flowset *f = NULL;
        for (size_t i = 0; i < a->n_flowsets; i++) {
            if (!strcmp(a->flowsets[i].chain, s->chain)
                && !strcmp(a->flowsets[i].bridge, s->bridge)) {
                f = &a->flowsets[i];
            }
        }
        if (f && f->cookie == s->cookie
            && same_strings(f->flows, f->n_flows, s->flows, s->n_flows)
            && same_strings(f->ports, f->n_ports, s->ports, s->n_ports)) {
            f->desired = true;
            continue;
        }
        if (!f) {
            a->flowsets = vnet_xrealloc(a->flowsets,
                                        (a->n_flowsets + 1) * sizeof *a->flowsets);
            f = &a->flowsets[a->n_flowsets++];
            memset(f, 0, sizeof *f);
        } else {
            flowset_free(f);
            memset(f, 0, sizeof *f);
        }
        f->bridge = vnet_xstrdup(s->bridge);
        f->chain = vnet_xstrdup(s->chain);
        f->cookie = s->cookie;
        f->cookie_mask = s->cookie_mask;
        f->flows = dup_strings(s->flows, s->n_flows);
        f->n_flows = s->n_flows;
        f->ports = dup_strings(s->ports, s->n_ports);
        f->n_ports = s->n_ports;
        f->desired = true;
        f->installed = false;
    }
    /* Flow sets no longer desired are removed by the next bundle. */
    for (size_t i = 0; i < a->n_flowsets; i++) {
        if (!a->flowsets[i].desired) {
            a->flowsets[i].installed = false;
        }
    }
    a->desired_set = true;
    a->dirty = true;
    a->changed = true;
    poll_immediate_wake();
}

/* ---- OVSDB convergence ------------------------------------------------------- */

static const char *protocols[] = {
    "OpenFlow10", "OpenFlow13", "OpenFlow14", "OpenFlow15",
};

static void
add_bridge(struct ovs_adapter *a, struct ovsdb_idl_txn *txn,
           const struct ovsrec_open_vswitch *ovs, const struct bridge_want *w)
{
    struct smap ids = SMAP_INITIALIZER(&ids);
    set_owner_ids(&ids, a, BRIDGE_OWNER, NULL);
    struct ovsrec_interface *iface = ovsrec_interface_insert(txn);
    ovsrec_interface_set_name(iface, w->name);
    ovsrec_interface_set_type(iface, "internal");
    ovsrec_interface_set_external_ids(iface, &ids);
    struct ovsrec_port *port = ovsrec_port_insert(txn);
    ovsrec_port_set_name(port, w->name);
    ovsrec_port_set_interfaces(port, &iface, 1);
    ovsrec_port_set_external_ids(port, &ids);
    struct ovsrec_bridge *br = ovsrec_bridge_insert(txn);
    ovsrec_bridge_set_name(br, w->name);
    ovsrec_bridge_set_datapath_type(br, w->datapath);
    ovsrec_bridge_set_fail_mode(br, "secure");
    ovsrec_bridge_set_protocols(br, protocols, VNET_ARRAY_SIZE(protocols));
    ovsrec_bridge_set_ports(br, &port, 1);
    ovsrec_bridge_set_external_ids(br, &ids);
    ovsrec_open_vswitch_update_bridges_addvalue(ovs, br);
    smap_destroy(&ids);
    VNLOG_INFO("creating bridge '%s' (datapath %s)", w->name, w->datapath);
}

static void
add_port(struct ovs_adapter *a, struct ovsdb_idl_txn *txn,
         const struct ovsrec_bridge *br, const struct port_want *w)
{
    struct smap ids = SMAP_INITIALIZER(&ids);
    set_owner_ids(&ids, a, w->chain, w->role);
    int64_t ofport = w->ofport;
    struct ovsrec_interface *iface = ovsrec_interface_insert(txn);
    ovsrec_interface_set_name(iface, w->name);
    ovsrec_interface_set_ofport_request(iface, &ofport, 1);
    ovsrec_interface_set_external_ids(iface, &ids);
    struct ovsrec_port *port = ovsrec_port_insert(txn);
    ovsrec_port_set_name(port, w->name);
    ovsrec_port_set_interfaces(port, &iface, 1);
    ovsrec_port_set_external_ids(port, &ids);
    ovsrec_bridge_update_ports_addvalue(br, port);
    smap_destroy(&ids);
}

static void
delete_port(const struct ovsrec_bridge *br, const struct ovsrec_port *port)
{
    ovsrec_bridge_update_ports_delvalue(br, port);
    for (size_t i = 0; i < port->n_interfaces; i++) {
        ovsrec_interface_delete(port->interfaces[i]);
    }
    ovsrec_port_delete(port);
}

static const struct ovsrec_mirror *
find_mirror(const struct ovs_adapter *a, const char *name)
{
    const struct ovsrec_mirror *m;
    OVSREC_MIRROR_FOR_EACH (m, a->idl) {
        if (!strcmp(m->name, name)) {
            return m;
        }
    }
    return NULL;
}

static bool
mirror_matches(const struct ovsrec_mirror *m, const struct mirror_want *w)
{
    bool dst_ok = w->select_dst ? m->n_select_dst_port == 1
                                  && !strcmp(m->select_dst_port[0]->name, w->select_dst)
                                : !m->n_select_dst_port;
    bool src_ok = w->select_src ? m->n_select_src_port == 1
                                  && !strcmp(m->select_src_port[0]->name, w->select_src)
                                : !m->n_select_src_port;
    bool snap_ok = w->snaplen ? m->n_snaplen == 1 && m->snaplen[0] == w->snaplen
                              : !m->n_snaplen;
    return dst_ok && src_ok && snap_ok && m->output_port
           && !strcmp(m->output_port->name, w->output);
}

/* Sets a mirror row's selection and output from 'w'; its ports must exist. */
static bool
set_mirror(struct ovs_adapter *a, const struct ovsrec_mirror *m,
           const struct mirror_want *w)
{
    struct ovsrec_port *dst = NULL, *src = NULL;
    const struct ovsrec_port *out = find_port(a, w->output, NULL);
    if (w->select_dst) {
        dst = CONST_CAST(struct ovsrec_port *, find_port(a, w->select_dst, NULL));
    }
    if (w->select_src) {
        src = CONST_CAST(struct ovsrec_port *, find_port(a, w->select_src, NULL));
    }
    if (!out || (w->select_dst && !dst) || (w->select_src && !src)) {
        return false;
    }
    ovsrec_mirror_set_select_dst_port(m, &dst, dst ? 1 : 0);
    ovsrec_mirror_set_select_src_port(m, &src, src ? 1 : 0);
    ovsrec_mirror_set_output_port(m, out);
    int64_t snaplen = w->snaplen;
    ovsrec_mirror_set_snaplen(m, &snaplen, w->snaplen ? 1 : 0);
    return true;
}

static int
diff_mirrors(struct ovs_adapter *a, struct ovsdb_idl_txn *txn)
{
    int changes = 0;
    for (size_t i = 0; i < a->n_mirrors; i++) {
        const struct mirror_want *w = &a->mirrors[i];
        const struct ovsrec_bridge *br = find_bridge(a, w->bridge);
        const struct ovsrec_mirror *m = find_mirror(a, w->name);
        if (!br) {
            continue;
        }
        if (m && !row_is_ours(&m->external_ids, a)) {
            VNLOG_WARN_RL(&rl, "mirror '%s' exists and is not owned by this vnetd; "
                          "left alone", w->name);
            continue;
        }
        if (m && mirror_matches(m, w)) {
            continue;
        }
        if (!m) {
            /* A Mirror row nothing references is garbage-collected: it is inserted
             * and added to its bridge in the same transaction. */
            struct ovsrec_mirror *nm = ovsrec_mirror_insert(txn);
            if (!set_mirror(a, nm, w)) {
                ovsrec_mirror_delete(nm);
                continue;
            }
            struct smap ids = SMAP_INITIALIZER(&ids);
            set_owner_ids(&ids, a, w->chain, "mirror");
            ovsrec_mirror_set_name(nm, w->name);
            ovsrec_mirror_set_external_ids(nm, &ids);
            smap_destroy(&ids);
            ovsrec_bridge_update_mirrors_addvalue(br, nm);
            VNLOG_INFO("creating mirror '%s' -> '%s'", w->name, w->output);
        } else if (!set_mirror(a, m, w)) {
            continue;
        }
        changes++;
    }
    const struct ovsrec_bridge *br;
    OVSREC_BRIDGE_FOR_EACH (br, a->idl) {
        for (size_t i = 0; i < br->n_mirrors; i++) {
            const struct ovsrec_mirror *m = br->mirrors[i];
            if (!row_is_ours(&m->external_ids, a)) {
                continue;
            }
            bool wanted = false;
            for (size_t k = 0; k < a->n_mirrors; k++) {
                wanted |= !strcmp(a->mirrors[k].name, m->name)
                          && !strcmp(a->mirrors[k].bridge, br->name);
            }
            if (!wanted) {
                VNLOG_INFO("removing mirror '%s'", m->name);
                ovsrec_bridge_update_mirrors_delvalue(br, m);
                ovsrec_mirror_delete(m);
                changes++;
            }
        }
    }
    if (changes) {
        a->revalidate = true;
    }
    return changes;
}

/* True if the device of 'port''s interface has a different ifindex than when it
 * was last seen (it was deleted and created again).  Remembers the new one. */
static bool
device_recreated(struct ovs_adapter *a, const struct ovsrec_port *port)
{
    if (port->n_interfaces != 1 || port->interfaces[0]->n_ifindex != 1
        || port->interfaces[0]->ifindex[0] <= 0) {
        return false;
    }
    char now[24];
    snprintf(now, sizeof now, "%" PRId64, port->interfaces[0]->ifindex[0]);
    const char *seen = smap_get(&a->ifindexes, port->name);
    bool changed = seen && strcmp(seen, now);
    if (changed) {
        smap_remove(&a->ifindexes, port->name);
    } else if (!seen) {
        smap_add(&a->ifindexes, port->name, now);
    }
    return changed;
}

/* Adds to 'txn' every change needed; returns the number of changes. */
static int
diff_db(struct ovs_adapter *a, struct ovsdb_idl_txn *txn)
{
    const struct ovsrec_open_vswitch *ovs = ovsrec_open_vswitch_first(a->idl);
    int changes = 0;
    long long int now = time_msec();
    bool kick = now >= a->next_kick;

    /* Bridges first: a port needs its bridge.  New bridges get their ports on the
     * next pass, once the bridge row exists. */
    for (size_t i = 0; i < a->n_bridges; i++) {
        if (!find_bridge(a, a->bridges[i].name)) {
            add_bridge(a, txn, ovs, &a->bridges[i]);
            changes++;
        }
    }
    for (size_t i = 0; i < a->n_ports; i++) {
        const struct port_want *w = &a->ports[i];
        const struct ovsrec_bridge *br = find_bridge(a, w->bridge);
        const struct ovsrec_bridge *on = NULL;
        const struct ovsrec_port *port = find_port(a, w->name, &on);
        if (!br) {
            continue;
        }
        if (!port && w->keep_only) {
            continue;
        }
        if (!port) {
            /* A new port: whatever device its name had before is no reference. */
            smap_remove(&a->ifindexes, w->name);
            add_port(a, txn, br, w);
            changes++;
            continue;
        }
        if (!row_is_ours(&port->external_ids, a)) {
            VNLOG_WARN_RL(&rl, "port '%s' exists and is not owned by this vnetd; left "
                          "alone", w->name);
            continue;
        }
        if (on != br) {
            delete_port(on, port);
            add_port(a, txn, br, w);
            changes++;
            continue;
        }
        if (!w->keep_only && device_recreated(a, port)) {
            /* The VNode restarted and its veth is a new device under the old name:
             * ovs-vswitchd's userspace datapath still reads the old one.  Remove the
             * port now and add it back on the next pass (in one transaction the
             * bridge would keep the port as it is). */
            VNLOG_INFO("port '%s': its device was re-created; re-adding the port",
                       w->name);
            delete_port(br, port);
            changes++;
            continue;
        }
        for (size_t k = 0; k < port->n_interfaces; k++) {
            const struct ovsrec_interface *iface = port->interfaces[k];
            bool ofport_ok = iface->n_ofport_request == 1
                             && iface->ofport_request[0] == w->ofport;
            const char *owner = smap_get(&iface->external_ids, OWNER_KEY);
            const char *role = smap_get(&iface->external_ids, ROLE_KEY);
            bool ids_ok = owner && !strcmp(owner, w->chain) && role
                          && !strcmp(role, w->role);
            /* An interface that failed to open (its veth did not exist yet) is
             * retried by touching the row, which makes ovs-vswitchd reconfigure. */
            bool failed = iface->error && *iface->error;
            if (!ofport_ok) {
                int64_t ofport = w->ofport;
                ovsrec_interface_set_ofport_request(iface, &ofport, 1);
                changes++;
            }
            if (!ids_ok || (failed && kick)) {
                struct smap ids = SMAP_INITIALIZER(&ids);
                set_owner_ids(&ids, a, w->chain, w->role);
                if (failed) {
                    char seq[16];
                    snprintf(seq, sizeof seq, "%u", ++a->kick_seq);
                    smap_add(&ids, KICK_KEY, seq);
                }
                ovsrec_interface_set_external_ids(iface, &ids);
                ovsrec_port_set_external_ids(port, &ids);
                smap_destroy(&ids);
                changes++;
            }
        }
    }

    /* Remove what this instance owns and no longer wants. */
    const struct ovsrec_bridge *br;
    OVSREC_BRIDGE_FOR_EACH (br, a->idl) {
        bool ours = row_is_ours(&br->external_ids, a);
        bool wanted = bridge_wanted(a, br->name);
        size_t foreign = 0;
        for (size_t i = 0; i < br->n_ports; i++) {
            const struct ovsrec_port *port = br->ports[i];
            if (!row_is_ours(&port->external_ids, a)) {
                foreign++;
                continue;
            }
            const char *owner = smap_get(&port->external_ids, OWNER_KEY);
            if (!strcmp(owner, BRIDGE_OWNER)) {
                continue;               /* the bridge's own local port */
            }
            const struct port_want *w = find_want_port(a, port->name);
            if (!w || strcmp(w->bridge, br->name)) {
                if (!w) {
                    VNLOG_INFO("removing port '%s' (chain '%s')", port->name, owner);
                }
                delete_port(br, port);
                changes++;
            }
        }
        if (ours && !wanted) {
            if (foreign) {
                VNLOG_WARN_RL(&rl, "bridge '%s' is no longer needed but holds %zu ports "
                              "vnetd did not create; keeping it", br->name, foreign);
            } else {
                VNLOG_INFO("removing bridge '%s'", br->name);
                ovsrec_open_vswitch_update_bridges_delvalue(ovs, br);
                ovsrec_bridge_delete(br);
                changes++;
            }
        }
    }
    if (kick) {
        a->next_kick = now + KICK_INTERVAL_MS;
    }
    return changes + diff_mirrors(a, txn);
}

/* Makes ovs-vswitchd re-check every installed datapath flow, so a new mirror sees
 * flows that already exist and a removed one stops copying (OVS 3.1 does not do it
 * by itself).  Uses 'revalidator/purge' on its control socket. */
static void
revalidate(struct ovs_adapter *a)
{
    char *path = vnet_xasprintf("%s/ovs-vswitchd.ctl", a->rundir);
    if (access(path, F_OK)) {
        free(path);
        char *pidfile = vnet_xasprintf("%s/ovs-vswitchd.pid", a->rundir);
        FILE *f = fopen(pidfile, "re");
        long pid = 0;
        if (f && fscanf(f, "%ld", &pid) != 1) {
            pid = 0;
        }
        if (f) {
            fclose(f);
        }
        free(pidfile);
        path = vnet_xasprintf("%s/ovs-vswitchd.%ld.ctl", a->rundir, pid);
    }
    struct jsonrpc *client;
    int error = unixctl_client_create(path, &client);
    if (!error) {
        char *result = NULL, *err = NULL;
        error = unixctl_client_transact(client, "revalidator/purge", 0, NULL, &result,
                                        &err);
        if (!error && err) {
            VNLOG_WARN_RL(&rl, "revalidator/purge: %s", err);
            error = EPROTO;
        }
        free(result);
        free(err);
        jsonrpc_close(client);
    }
    if (error) {
        VNLOG_WARN_RL(&rl, "cannot revalidate datapath flows through '%s': %s; "
                      "mirrors may miss existing flows", path, ovs_strerror(error));
    } else {
        VNLOG_DBG("revalidated datapath flows");
    }
    free(path);
    a->revalidate = false;
    a->revalidated_cfg++;
}

static void
run_db(struct ovs_adapter *a)
{
    const struct ovsrec_open_vswitch *ovs = ovsrec_open_vswitch_first(a->idl);
    if (a->txn) {
        enum ovsdb_idl_txn_status status = ovsdb_idl_txn_commit(a->txn);
        if (status == TXN_INCOMPLETE) {
            return;
        }
        crashpoint("ovsdb-committed");
        if (status == TXN_SUCCESS) {
            a->wait_cfg = ovsdb_idl_txn_get_increment_new_value(a->txn);
        } else if (status != TXN_UNCHANGED) {
            VNLOG_WARN_RL(&rl, "OVSDB transaction %s: %s",
                          ovsdb_idl_txn_status_to_string(status),
                          ovsdb_idl_txn_get_error(a->txn));
            a->txn_retry_at = time_msec() + RETRY_MS;
            a->dirty = true;
        }
        ovsdb_idl_txn_destroy(a->txn);
        a->txn = NULL;
        a->changed = true;
    }
    if (a->wait_cfg && ovs && ovs->cur_cfg >= a->wait_cfg) {
        a->wait_cfg = 0;
        a->changed = true;
        if (a->revalidate) {
            revalidate(a);
        }
    }
    unsigned int seqno = ovsdb_idl_get_seqno(a->idl);
    if (seqno != a->last_seqno) {
        a->last_seqno = seqno;
        a->dirty = true;
        a->changed = true;
    }
    long long int now = time_msec();
    if (!a->desired_set || !ovs || a->wait_cfg || now < a->txn_retry_at
        || !ovsdb_idl_has_ever_connected(a->idl) || !ovsdb_idl_is_connected(a->idl)) {
        return;
    }
    if (!a->dirty && now < a->next_kick) {
        return;
    }
    a->dirty = false;
    struct ovsdb_idl_txn *txn = ovsdb_idl_txn_create(a->idl);
    ovsdb_idl_txn_add_comment(txn, "vnetd: converge");
    int changes = diff_db(a, txn);
    a->db_converged = !changes;
    if (!changes) {
        ovsdb_idl_txn_destroy(txn);
        return;
    }
    ovsdb_idl_txn_increment(txn, &ovs->header_, &ovsrec_open_vswitch_col_next_cfg,
                            false);
    a->txn = txn;
    a->changed = true;
    crashpoint("ovsdb-commit");
    run_db(a);
}

/* ---- OpenFlow -------------------------------------------------------------- */

static struct ofconn *
get_conn(struct ovs_adapter *a, const char *bridge)
{
    struct ofconn *c = NULL;
    for (size_t i = 0; i < a->n_conns; i++) {
        if (!strcmp(a->conns[i].bridge, bridge)) {
            c = &a->conns[i];
        }
    }
    if (!c) {
        a->conns = vnet_xrealloc(a->conns, (a->n_conns + 1) * sizeof *a->conns);
        c = &a->conns[a->n_conns++];
        memset(c, 0, sizeof *c);
        c->bridge = vnet_xstrdup(bridge);
    }
    if (c->vconn || time_msec() < c->retry_at) {
        return c->vconn ? c : NULL;
    }
    char *name = vnet_xasprintf("unix:%s/%s.mgmt", a->rundir, bridge);
    int error = vconn_open_block(name, 1u << OFP15_VERSION, 0, 1000, &c->vconn);
    if (error) {
        VNLOG_DBG("cannot open '%s': %s", name, ovs_strerror(error));
        c->vconn = NULL;
        c->retry_at = time_msec() + RETRY_MS;
    } else {
        VNLOG_DBG("connected to '%s'", name);
    }
    free(name);
    return c->vconn ? c : NULL;
}

/* Closes 'c'.  Whatever the switch behind it held may be gone (it restarted, or
 * the bridge was recreated), so every rule set of the bridge is re-installed once
 * a connection is back. */
static void
drop_conn(struct ovs_adapter *a, struct ofconn *c)
{
    vconn_close(c->vconn);
    c->vconn = NULL;
    c->retry_at = time_msec() + RETRY_MS;
    for (size_t i = 0; i < a->n_flowsets; i++) {
        if (!strcmp(a->flowsets[i].bridge, c->bridge)) {
            a->flowsets[i].installed = false;
        }
    }
}

/* Parses 'text' into a flow_mod encoded for OpenFlow 1.5.  Returns NULL and
 * '*ret', or an error message. */
static char *
encode_flow_mod(const char *text, int command, struct ofpbuf **ret)
{
    struct ofputil_flow_mod fm;
    enum ofputil_protocol usable;
    char *error = parse_ofp_flow_mod_str(&fm, text, NULL, NULL, command, &usable);
    if (error) {
        return error;
    }
    if (!(usable & OFPUTIL_P_OF15_OXM)) {
        free(CONST_CAST(struct ofpact *, fm.ofpacts));
        minimatch_destroy(&fm.match);
        return vnet_xasprintf("'%s' cannot be expressed in OpenFlow 1.5", text);
    }
    *ret = ofputil_encode_flow_mod(&fm, OFPUTIL_P_OF15_OXM);
    free(CONST_CAST(struct ofpact *, fm.ofpacts));
    minimatch_destroy(&fm.match);
    return NULL;
}

char *
ovs_adapter_check_flows(const char *const *flows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct ofpbuf *msg;
        char *error = encode_flow_mod(flows[i], OFPFC_ADD, &msg);
        if (error) {
            char *full = vnet_xasprintf("rule %zu: %s", i, error);
            free(error);
            return full;
        }
        ofpbuf_delete(msg);
    }
    return NULL;
}

/* Replaces all rules matching the flow set's cookie mask with its rules (or
 * removes them when it is no longer desired), in one atomic bundle. */
static int
apply_flowset(struct ovs_adapter *a, struct ofconn *c, struct flowset *f)
{
    struct ovs_list requests;
    ovs_list_init(&requests);
    char *cookie = vnet_xasprintf("cookie=0x%016" PRIx64 "/0x%016" PRIx64, f->cookie,
                                  f->cookie_mask);
    struct ofpbuf *msg;
    char *error = encode_flow_mod(cookie, OFPFC_DELETE, &msg);
    free(cookie);
    if (!error) {
        ovs_list_push_back(&requests, &msg->list_node);
    }
    for (size_t i = 0; !error && f->desired && i < f->n_flows; i++) {
        error = encode_flow_mod(f->flows[i], OFPFC_ADD, &msg);
        if (!error) {
            ovs_list_push_back(&requests, &msg->list_node);
        }
    }
    if (error) {
        free(f->error);
        f->error = vnet_xasprintf("bad rule for chain '%s': %s", f->chain, error);
        VNLOG_ERR("%s", f->error);
        free(error);
        ofpbuf_list_delete(&requests);
        return -EINVAL;
    }

    struct ovs_list errors;
    uint64_t t0 = vnet_mono_ns();
    crashpoint("openflow-bundle");
    int retval = vconn_bundle_transact(c->vconn, &requests,
                                       OFPBF_ATOMIC | OFPBF_ORDERED, &errors);
    crashpoint("openflow-bundle-done");
    a->last_bundle_us = (vnet_mono_ns() - t0) / 1000;
    ofpbuf_list_delete(&requests);
    size_t n_errors = 0;
    struct ofpbuf *reply;
    char first[128] = "";
    LIST_FOR_EACH_POP (reply, list_node, &errors) {
        if (!n_errors++) {
            enum ofperr ofperr = ofperr_decode_msg(reply->data, NULL);
            snprintf(first, sizeof first, "%s", ofperr_get_name(ofperr));
        }
        ofpbuf_delete(reply);
    }
    if (retval) {
        /* The connection broke (e.g. the switch restarted or the bridge was
         * recreated): reconnect and try again; nothing was applied. */
        VNLOG_INFO("OpenFlow connection to '%s' failed (%s); reconnecting", f->bridge,
                   ovs_strerror(retval));
        drop_conn(a, c);
        c->retry_at = 0;
        return -retval;
    }
    if (n_errors) {
        free(f->error);
        f->error = vnet_xasprintf("bundle for chain '%s' on '%s' was refused: %s",
                                  f->chain, f->bridge, first);
        VNLOG_WARN_RL(&rl, "%s", f->error);
        return -EPROTO;
    }
    free(f->error);
    f->error = NULL;
    VNLOG_INFO("%s %zu rules of chain '%s' on '%s' in one bundle (%" PRIu64 " us)",
               f->desired ? "installed" : "removed", f->desired ? f->n_flows : 0,
               f->chain, f->bridge, a->last_bundle_us);
    return 0;
}

static bool
flowset_ports_ready(const struct ovs_adapter *a, const struct flowset *f)
{
    for (size_t i = 0; i < f->n_ports; i++) {
        struct ovs_port_status st;
        ovs_adapter_port_status(a, f->ports[i], &st);
        if (st.state != OVS_PORT_READY) {
            return false;
        }
    }
    return true;
}

/* Counts installed rules per chain cookie on 'bridge' and forgets "installed" for
 * flow sets whose count differs; removes rule sets of unknown chains of ours. */
static void
audit_bridge(struct ovs_adapter *a, struct ofconn *c)
{
    struct ofputil_flow_stats_request fsr;
    memset(&fsr, 0, sizeof fsr);
    match_init_catchall(&fsr.match);
    fsr.cookie = htonll(0x766e657400000000ull);
    fsr.cookie_mask = htonll(0xffffffff00000000ull);
    fsr.out_port = OFPP_ANY;
    fsr.out_group = OFPG_ANY;
    fsr.table_id = 0xff;
    struct ofputil_flow_stats *fses = NULL;
    size_t n = 0;
    int error = vconn_dump_flows(c->vconn, &fsr, OFPUTIL_P_OF15_OXM, &fses, &n);
    if (error) {
        drop_conn(a, c);
        return;
    }
    for (size_t i = 0; i < a->n_flowsets; i++) {
        struct flowset *f = &a->flowsets[i];
        if (strcmp(f->bridge, c->bridge) || !f->installed) {
            continue;
        }
        size_t count = 0;
        for (size_t k = 0; k < n; k++) {
            count += (ntohll(fses[k].cookie) & f->cookie_mask)
                     == (f->cookie & f->cookie_mask);
        }
        if (count != (f->desired ? f->n_flows : 0)) {
            VNLOG_WARN("chain '%s' has %zu rules on '%s', expected %zu; reinstalling",
                       f->chain, count, f->bridge, f->desired ? f->n_flows : 0);
            f->installed = false;
        }
    }
    /* Rules with our cookie tag that belong to no known chain (a chain deleted
     * while vnetd was down) are removed, but only from bridges this instance
     * created. */
    const struct ovsrec_bridge *br = find_bridge(a, c->bridge);
    bool bridge_ours = br && row_is_ours(&br->external_ids, a);
    for (size_t k = 0; bridge_ours && k < n; k++) {
        uint64_t group = ntohll(fses[k].cookie) & ~0xffull;
        bool known = false;
        for (size_t i = 0; i < a->n_flowsets; i++) {
            const struct flowset *f = &a->flowsets[i];
            known |= !strcmp(f->bridge, c->bridge)
                     && (f->cookie & f->cookie_mask) == (group & f->cookie_mask);
        }
        if (!known) {
            a->flowsets = vnet_xrealloc(a->flowsets,
                                        (a->n_flowsets + 1) * sizeof *a->flowsets);
            struct flowset *f = &a->flowsets[a->n_flowsets++];
            memset(f, 0, sizeof *f);
            f->bridge = vnet_xstrdup(c->bridge);
            f->chain = vnet_xasprintf("(unknown chain, cookie 0x%016" PRIx64 ")", group);
            f->cookie = group;
            f->cookie_mask = ~0xffull;
            VNLOG_INFO("removing orphaned rules with cookie 0x%016" PRIx64 " from '%s'",
                       group, c->bridge);
        }
    }
    for (size_t k = 0; k < n; k++) {
        free(CONST_CAST(struct ofpact *, fses[k].ofpacts));
    }
    free(fses);
}

/* Notices at once when ovs-vswitchd closes a management connection (it exited or
 * restarted: its OpenFlow tables are gone), so the rules are re-installed as soon
 * as it is back and 'status' shows the outage meanwhile.  Anything the switch sends
 * unasked (echo requests) is answered or dropped. */
static void
watch_conns(struct ovs_adapter *a)
{
    for (size_t i = 0; i < a->n_conns; i++) {
        struct ofconn *c = &a->conns[i];
        for (int n = 0; c->vconn && n < 16; n++) {
            vconn_run(c->vconn);
            struct ofpbuf *msg;
            int error = vconn_recv(c->vconn, &msg);
            if (error == EAGAIN) {
                break;
            }
            if (error) {
                VNLOG_WARN("OpenFlow connection to bridge '%s' closed (%s): "
                           "ovs-vswitchd exited or restarted", c->bridge,
                           ovs_retval_to_string(error));
                drop_conn(a, c);
                c->retry_at = 0;
                a->changed = true;
                break;
            }
            enum ofptype type;
            if (!ofptype_decode(&type, msg->data) && type == OFPTYPE_ECHO_REQUEST) {
                vconn_send(c->vconn, ofputil_encode_echo_reply(msg->data));
            }
            ofpbuf_delete(msg);
        }
    }
}

static void
run_flows(struct ovs_adapter *a)
{
    long long int now = time_msec();
    watch_conns(a);
    for (size_t i = 0; i < a->n_conns; i++) {
        if (a->conns[i].vconn && !find_bridge(a, a->conns[i].bridge)) {
            drop_conn(a, &a->conns[i]);
            a->conns[i].retry_at = 0;
        }
    }
    bool audit = now >= a->next_audit;
    if (audit) {
        a->next_audit = now + AUDIT_INTERVAL_MS;
    }
    for (size_t i = 0; i < a->n_flowsets; i++) {
        struct flowset *f = &a->flowsets[i];
        if (!f->desired && !f->installed && !find_bridge(a, f->bridge)) {
            f->installed = true;        /* the bridge went, and its rules with it */
            continue;
        }
        if (f->installed || !find_bridge(a, f->bridge)
            || (f->desired && !flowset_ports_ready(a, f))) {
            continue;
        }
        struct ofconn *c = get_conn(a, f->bridge);
        if (c && !apply_flowset(a, c, f)) {
            f->installed = true;
            a->changed = true;
        }
    }
    /* Forget removed flow sets once their removal is applied. */
    size_t kept = 0;
    for (size_t i = 0; i < a->n_flowsets; i++) {
        struct flowset *f = &a->flowsets[i];
        if (!f->desired && f->installed) {
            flowset_free(f);
            a->changed = true;
        } else {
            a->flowsets[kept++] = *f;
        }
    }
    a->n_flowsets = kept;
    if (audit) {
        for (size_t i = 0; i < a->n_conns; i++) {
            struct ofconn *c = get_conn(a, a->conns[i].bridge);
            if (c && find_bridge(a, c->bridge)) {
                audit_bridge(a, c);
            }
        }
    }
}

bool
ovs_adapter_run(struct ovs_adapter *a)
{
    bool was_connected = ovsdb_idl_is_connected(a->idl);
    ovsdb_idl_run(a->idl);
    if (was_connected != ovsdb_idl_is_connected(a->idl)) {
        VNLOG_INFO("OVSDB %s", ovsdb_idl_is_connected(a->idl) ? "connected"
                                                              : "disconnected");
        a->changed = true;
    }
    run_db(a);
    if (a->desired_set && ovsdb_idl_is_connected(a->idl)) {
        run_flows(a);
    }
    bool changed = a->changed;
    a->changed = false;
    return changed;
}

void
ovs_adapter_wait(struct ovs_adapter *a)
{
    ovsdb_idl_wait(a->idl);
    for (size_t i = 0; i < a->n_conns; i++) {
        if (a->conns[i].vconn) {
            vconn_run_wait(a->conns[i].vconn);
            vconn_recv_wait(a->conns[i].vconn);
        }
    }
    if (a->txn) {
        ovsdb_idl_txn_wait(a->txn);
    }
    long long int next = a->next_audit;
    if (a->txn_retry_at) {
        next = VNET_MIN(next, a->txn_retry_at);
    }
    for (size_t i = 0; i < a->n_flowsets; i++) {
        if (!a->flowsets[i].installed) {
            next = VNET_MIN(next, time_msec() + 200);
        }
    }
    for (size_t i = 0; i < a->n_ports; i++) {
        struct ovs_port_status st;
        ovs_adapter_port_status(a, a->ports[i].name, &st);
        if (st.state == OVS_PORT_ERROR) {
            next = VNET_MIN(next, a->next_kick);
        }
    }
    poll_timer_wait_until(next);
}

/* ---- status ------------------------------------------------------------------ */

bool
ovs_adapter_connected(const struct ovs_adapter *a)
{
    return ovsdb_idl_is_connected(a->idl);
}

bool
ovs_adapter_switch_connected(const struct ovs_adapter *a, const char *bridge)
{
    for (size_t i = 0; i < a->n_conns; i++) {
        if (!strcmp(a->conns[i].bridge, bridge)) {
            return a->conns[i].vconn != NULL;
        }
    }
    return false;
}

static uint64_t
stat_of(const struct ovsrec_interface *iface, const char *key)
{
    for (size_t i = 0; i < iface->n_statistics; i++) {
        if (!strcmp(iface->key_statistics[i], key)) {
            return (uint64_t) iface->value_statistics[i];
        }
    }
    return 0;
}

void
ovs_adapter_port_status(const struct ovs_adapter *a, const char *name,
                        struct ovs_port_status *st)
{
    memset(st, 0, sizeof *st);
    st->state = OVS_PORT_ABSENT;
    st->ofport = -1;
    const struct ovsrec_port *port = find_port(a, name, NULL);
    const struct ovsrec_interface *iface = port ? find_iface(a, name) : NULL;
    if (!iface) {
        return;
    }
    const struct port_want *w = find_want_port(a, name);
    st->ofport = iface->n_ofport ? iface->ofport[0] : -1;
    if (iface->error && *iface->error) {
        st->state = OVS_PORT_ERROR;
        snprintf(st->error, sizeof st->error, "%s", iface->error);
    } else if (a->wait_cfg || a->txn || !w || st->ofport != w->ofport) {
        st->state = OVS_PORT_PENDING;
    } else {
        st->state = OVS_PORT_READY;
    }
    st->rx_packets = stat_of(iface, "rx_packets");
    st->tx_packets = stat_of(iface, "tx_packets");
    st->rx_bytes = stat_of(iface, "rx_bytes");
    st->tx_bytes = stat_of(iface, "tx_bytes");
    st->rx_dropped = stat_of(iface, "rx_dropped");
    st->tx_dropped = stat_of(iface, "tx_dropped");
}

static const struct flowset *
find_flowset(const struct ovs_adapter *a, const char *chain)
{
    for (size_t i = 0; i < a->n_flowsets; i++) {
        if (!strcmp(a->flowsets[i].chain, chain)) {
            return &a->flowsets[i];
        }
    }
    return NULL;
}

bool
ovs_adapter_flows_installed(const struct ovs_adapter *a, const char *chain)
{
    const struct flowset *f = find_flowset(a, chain);
    return f && f->desired && f->installed;
}

const char *
ovs_adapter_flows_error(const struct ovs_adapter *a, const char *chain)
{
    const struct flowset *f = find_flowset(a, chain);
    return f ? f->error : NULL;
}

bool
ovs_adapter_mirror_ready(const struct ovs_adapter *a, const char *name)
{
    const struct ovsrec_mirror *m = find_mirror(a, name);
    if (!m || a->txn || a->wait_cfg || a->revalidate) {
        return false;
    }
    for (size_t i = 0; i < a->n_mirrors; i++) {
        if (!strcmp(a->mirrors[i].name, name)) {
            return mirror_matches(m, &a->mirrors[i]);
        }
    }
    return false;
}

uint64_t
ovs_adapter_mirror_packets(const struct ovs_adapter *a, const char *name)
{
    const struct ovsrec_mirror *m = find_mirror(a, name);
    for (size_t i = 0; m && i < m->n_statistics; i++) {
        if (!strcmp(m->key_statistics[i], "tx_packets")) {
            return (uint64_t) m->value_statistics[i];
        }
    }
    return 0;
}

size_t
ovs_adapter_n_owned(const struct ovs_adapter *a, const char *chain)
{
    size_t n = find_flowset(a, chain) != NULL;
    const struct ovsrec_mirror *m;
    OVSREC_MIRROR_FOR_EACH (m, a->idl) {
        const char *owner = smap_get(&m->external_ids, OWNER_KEY);
        n += row_is_ours(&m->external_ids, a) && owner && !strcmp(owner, chain);
    }
    const struct ovsrec_port *port;
    OVSREC_PORT_FOR_EACH (port, a->idl) {
        const char *owner = smap_get(&port->external_ids, OWNER_KEY);
        n += row_is_ours(&port->external_ids, a) && owner && !strcmp(owner, chain);
    }
    return n;
}

bool
ovs_adapter_converged(const struct ovs_adapter *a)
{
    if (!a->desired_set || a->txn || a->wait_cfg || a->dirty || !a->db_converged
        || a->revalidate) {
        return false;
    }
    for (size_t i = 0; i < a->n_flowsets; i++) {
        if (!a->flowsets[i].installed) {
            return false;
        }
    }
    return true;
}

int
ovs_adapter_dump_ports(struct ovs_adapter *a, const char *bridge,
                       struct ovs_port_counters **ret)
{
    if (!find_bridge(a, bridge)) {
        return -ENOENT;
    }
    struct ofconn *c = get_conn(a, bridge);
    if (!c) {
        return -ENOTCONN;
    }
    struct ofpbuf *request = ofputil_encode_dump_ports_request(OFP15_VERSION, OFPP_ANY);
    struct ovs_list requests, replies;
    ovs_list_init(&requests);
    ovs_list_push_back(&requests, &request->list_node);
    int error = vconn_transact_multipart(c->vconn, &requests, &replies);
    if (error) {
        drop_conn(a, c);
        return -error;
    }
    struct ovs_port_counters *out = NULL;
    size_t n = 0, cap = 0;
    struct ofpbuf *reply;
    LIST_FOR_EACH_POP (reply, list_node, &replies) {
        struct ofpbuf b = *reply;
        for (;;) {
            struct ofputil_port_stats ps;
            int retval = ofputil_decode_port_stats(&ps, &b);
            if (retval) {
                break;              /* EOF, or a malformed part: stop there */
            }
            uint32_t port = ofp_to_u16(ps.port_no);
            if (port < OFPP_MAX) {
                vnet_grow((void **) &out, &cap, n + 1, sizeof *out);
                out[n++] = (struct ovs_port_counters) {
                    (uint16_t) port, ps.stats.rx_packets, ps.stats.tx_packets,
                    ps.stats.rx_bytes, ps.stats.tx_bytes, ps.stats.rx_dropped,
                    ps.stats.tx_dropped,
                };
            }
            netdev_free_custom_stats_counters(&ps.custom_stats);
        }
        ofpbuf_delete(reply);
    }
    *ret = out;
    return (int) n;
}

uint64_t
ovs_adapter_last_bundle_us(const struct ovs_adapter *a)
{
    return a->last_bundle_us;
}
