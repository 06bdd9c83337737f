#include "vnetd/chain-runtime.h"

#include <config.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "openvswitch/poll-loop.h"
#include "openvswitch/util.h"
#include "lib/chain-template.h"
#include "lib/crashpoint.h"
#include "vnetd/health.h"
#include "timeval.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"
#include "vnetd/chain-plan.h"
#include "vnetd/control.h"
#include "vnetd/counters.h"
#include "vnetd/domain-xml.h"
#include "vnetd/libvirt-adapter.h"
#include "vnetd/ovs-adapter.h"
#include "vnetd/registry.h"
#include "vnetd/vnetd.h"
#include "shadow/clone.h"

VNLOG_DEFINE_THIS_MODULE(runtime);

struct held_op {
    char *chain;
    struct control_request *req;
    enum chain_op op;
    uint64_t deadline_ns;
};

struct running {
    char *chain;
    struct chain_plan *plan;
};

struct chain_runtime {
    struct vnetd *d;
    char *libvirt_uri, *ovs_db, *ovs_rundir, *datapath, *base_xml, *vnode_init;
    char *nf_path, *control_dir, *store_dir;
    unsigned int op_timeout_s;
    struct chain_plan_cpu cpu;
    bool has_cpu;
    struct libvirt_adapter *lv;
    struct ovs_adapter *ovs;
    struct counters *counters;
    bool dirty;
    struct held_op *ops;
    size_t n_ops;
    struct running *plans;      /* plans of the chains that should run */
    size_t n_plans;
    struct health *health;      /* of every VNet, with recent changes */
    long long int next_health;  /* when to re-check (NF programs send no events) */
    long long int next_drain_ms;    /* when a swap's drain period ends; -1: none */
};

static char *
resolve_program(const char *program, void *rt_)
{
    struct chain_runtime *rt = rt_;
    if (strchr(program, '/')) {
        return program[0] == '/' && !access(program, X_OK) ? vnet_xstrdup(program)
                                                           : NULL;
    }
    char *dirs = vnet_xstrdup(rt->nf_path);
    char *save = NULL, *found = NULL;
    for (char *dir = strtok_r(dirs, ":", &save); dir && !found;
         dir = strtok_r(NULL, ":", &save)) {
        char *path = vnet_xasprintf("%s/%s", dir, program);
        if (!access(path, X_OK)) {
            found = path;
        } else {
            free(path);
        }
    }
    free(dirs);
    return found;
}

struct chain_runtime *
chain_runtime_create(struct vnetd *d, const struct chain_runtime_config *cfg)
{
    struct chain_runtime *rt = vnet_xzalloc(sizeof *rt);
    rt->d = d;
    rt->libvirt_uri = vnet_xstrdup(cfg->libvirt_uri);
    rt->ovs_db = vnet_xstrdup(cfg->ovs_db);
    rt->ovs_rundir = vnet_xstrdup(cfg->ovs_rundir);
    if (!strcmp(cfg->datapath, "auto")) {
        /* Without the kernel module only the userspace datapath works. */
        rt->datapath = vnet_xstrdup(access("/sys/module/openvswitch", F_OK)
                                    ? "netdev" : "system");
    } else {
        rt->datapath = vnet_xstrdup(cfg->datapath);
    }
    rt->base_xml = vnet_xasprintf("%s/domains/lxc.xml", cfg->templates_dir);
    rt->vnode_init = vnet_xstrdup(cfg->vnode_init);
    rt->nf_path = vnet_xstrdup(cfg->nf_path);
    rt->control_dir = vnet_xstrdup(cfg->control_dir);
    rt->store_dir = vnet_xstrdup(cfg->store_dir);
    rt->op_timeout_s = cfg->op_timeout_s ? cfg->op_timeout_s : 120;
    if (cfg->cpu) {
        rt->cpu = *cfg->cpu;
        rt->has_cpu = true;
    }
    rt->lv = libvirt_adapter_create(cfg->libvirt_uri, d->registry.instance);
    rt->ovs = ovs_adapter_create(cfg->ovs_db, cfg->ovs_rundir, d->registry.instance);
    rt->counters = counters_create(rt->ovs);
    rt->dirty = true;
    VNLOG_INFO("libvirt '%s', OVS '%s' (datapath %s)", rt->libvirt_uri, rt->ovs_db,
               rt->datapath);
    rt->health = health_create();
    rt->next_drain_ms = -1;
    return rt;
}

static void
free_plans(struct chain_runtime *rt)
{
    for (size_t i = 0; i < rt->n_plans; i++) {
        free(rt->plans[i].chain);
        chain_plan_destroy(rt->plans[i].plan);
    }
    free(rt->plans);
    rt->plans = NULL;
    rt->n_plans = 0;
}

void
chain_runtime_destroy(struct chain_runtime *rt)
{
    if (!rt) {
        return;
    }
    counters_destroy(rt->counters);
    libvirt_adapter_destroy(rt->lv);
    ovs_adapter_destroy(rt->ovs);
    free_plans(rt);
    for (size_t i = 0; i < rt->n_ops; i++) {
        control_request_fail(rt->ops[i].req, vnet_error_create(VNET_ERR_BUSY,
                                                               "vnetd is stopping"));
        free(rt->ops[i].chain);
    }
    free(rt->ops);
    free(rt->libvirt_uri);
    free(rt->ovs_db);
    free(rt->ovs_rundir);
    free(rt->datapath);
    free(rt->base_xml);
    free(rt->vnode_init);
    free(rt->nf_path);
    free(rt->control_dir);
    free(rt->store_dir);
    health_destroy(rt->health);
    free(rt);
}

void
chain_runtime_changed(struct chain_runtime *rt)
{
    rt->dirty = true;
    poll_immediate_wake();
}

static const struct chain_plan *
find_plan(const struct chain_runtime *rt, const char *chain)
{
    for (size_t i = 0; i < rt->n_plans; i++) {
        if (!strcmp(rt->plans[i].chain, chain)) {
            return rt->plans[i].plan;
        }
    }
    return NULL;
}

static void
commit_or_log(struct chain_runtime *rt, struct json_object *before)
{
    struct vnet_error *error = vnetd_commit(rt->d, before);
    if (error) {
        VNLOG_ERR("%s", error->message);
        vnet_error_destroy(error);
    }
    rt->dirty = true;
}

/* Persists a failure of chain 'e' and rolls it back to "defined". */
static void
fail_chain(struct chain_runtime *rt, struct chain_entry *e, const char *msg)
{
    struct json_object *before = registry_to_json(&rt->d->registry);
    e->state = CHAIN_DEFINED;
    chain_entry_set_error(e, msg);
    commit_or_log(rt, before);
}

/* Persists a failure of the Monitoring VNet of 'e' and removes it. */
static void
fail_monitor(struct chain_runtime *rt, struct chain_entry *e, const char *msg)
{
    struct json_object *before = registry_to_json(&rt->d->registry);
    if (e->monitor) {
        e->monitor->removing = true;
    }
    chain_entry_set_error(e, msg);
    commit_or_log(rt, before);
}

/* The plan of chain 'e': both sides if it has a shadow ('retired_too': even the
 * side being retired), its Monitoring VNet if 'with_monitor'. */
static struct vnet_error *
make_plan_sides(struct chain_runtime *rt, const struct chain_entry *e,
                bool with_monitor, bool retired_too, struct chain_plan **ret)
{
    struct chain_plan_env env = {
        .vnode_init = rt->vnode_init,
        .control_dir = rt->control_dir,
        .store_dir = rt->store_dir,
        .resolve_program = resolve_program,
        .aux = rt,
        .cpu = rt->has_cpu ? &rt->cpu : NULL,
    };
    struct chain_plan_monitor mon;
    if (with_monitor && e->monitor) {
        mon = (struct chain_plan_monitor) {
            (const char *const *) e->monitor->nodes, e->monitor->n_nodes,
            e->monitor->snaplen, e->monitor->cpus, e->monitor->memory_mib,
        };
    }
    struct chain_plan_input in = {
        .tmpl = { chain_entry_side_template(e, 0), chain_entry_side_template(e, 1) },
        .active = chain_entry_active_side(e),
        .chain_id = e->chain_id,
        .port_base = e->port_base,
        .monitor = with_monitor && e->monitor ? &mon : NULL,
        .draining = e->shadow && e->shadow->drain_until_ns > vnet_mono_ns(),
    };
    if (e->shadow && e->shadow->retiring && !retired_too) {
        in.tmpl[!in.active] = NULL;
    }
    return chain_plan_create(&in, &env, ret);
}

static struct vnet_error *
make_plan(struct chain_runtime *rt, const struct chain_entry *e, bool with_monitor,
          struct chain_plan **ret)
{
    return make_plan_sides(rt, e, with_monitor, false, ret);
}

/* The definition of VNode 'vn': built from its template, or, for a side-1 VNode,
 * cloned from the definition its template gives the side-0 VNode. */
static struct vnet_error *
vnode_xml(struct chain_runtime *rt, const struct chain_plan *p,
          const struct vnode_plan *vn, char **ret_xml, char **ret_spec)
{
    if (!vn->original) {
        return domain_xml_build(rt->base_xml, vn, rt->d->registry.instance, p->chain,
                                vn->cpuset, ret_xml, ret_spec);
    }
    char *xml0, *spec0;
    struct vnet_error *error = domain_xml_build(rt->base_xml, vn->original,
                                                rt->d->registry.instance, p->chain,
                                                vn->cpuset, &xml0, &spec0);
    if (error) {
        return error;
    }
    const char *from[2], *to[2];
    for (size_t n = 0; n < vn->n_nics; n++) {
        from[n] = vn->original->nics[n].ifname;
        to[n] = vn->nics[n].ifname;
    }
    const char *arg_from[1] = { vn->original->control };
    const char *arg_to[1] = { vn->control };
    struct clone_spec spec = {
        .name = vn->domain, .dev_from = from, .dev_to = to, .n_devs = vn->n_nics,
        .arg_from = arg_from, .arg_to = arg_to, .n_args = 1, .role = "nf",
    };
    error = clone_domain_xml(xml0, &spec, ret_xml);
    free(xml0);
    free(spec0);
    if (!error) {
        *ret_spec = clone_get_spec(*ret_xml);
        if (!*ret_spec) {
            free(*ret_xml);
            error = vnet_error_create(VNET_ERR_INTERNAL, "clone of '%s' lost its vnet "
                                      "metadata", vn->domain);
        }
    }
    return error;
}

static const char *
port_role(const struct vnode_plan *vn, size_t n)
{
    return (vn->role == VNODE_ROLE_NF ? (n ? "nf-out" : "nf-in")
            : vn->role == VNODE_ROLE_MONITOR ? "mirror-output"
            : vnode_role_to_string(vn->role));
}

/* Builds the plans of the chains that should run and pushes the desired state of
 * both adapters. */
static void
push_desired(struct chain_runtime *rt)
{
    free_plans(rt);
    struct registry *reg = &rt->d->registry;
    rt->plans = vnet_xcalloc(reg->n_chains + 1, sizeof *rt->plans);
    for (size_t i = 0; i < reg->n_chains; i++) {
        struct chain_entry *e = reg->chains[i];
        if (e->state != CHAIN_RUNNING) {
            continue;
        }
        bool with_monitor = e->monitor && !e->monitor->removing;
        struct chain_plan *plan;
        struct vnet_error *error = make_plan(rt, e, with_monitor, &plan);
        if (error && with_monitor) {
            VNLOG_WARN("chain '%s': %s", e->name, error->message);
            fail_monitor(rt, e, error->message);
            vnet_error_destroy(error);
            error = make_plan(rt, e, false, &plan);
        }
        if (error) {
            VNLOG_WARN("chain '%s': %s", e->name, error->message);
            fail_chain(rt, e, error->message);
            vnet_error_destroy(error);
            continue;
        }
        rt->plans[rt->n_plans].chain = vnet_xstrdup(e->name);
        rt->plans[rt->n_plans++].plan = plan;
    }

    size_t n_doms = 0, n_nics = 0, n_mirrors = 0;
    for (size_t i = 0; i < rt->n_plans; i++) {
        const struct chain_plan *p = rt->plans[i].plan;
        n_doms += p->n_vnodes;
        n_mirrors += p->n_mirrors;
        for (size_t v = 0; v < p->n_vnodes; v++) {
            n_nics += p->vnodes[v].n_nics;
        }
    }
    struct lv_desired *doms = vnet_xcalloc(n_doms + 1, sizeof *doms);
    char **xmls = vnet_xcalloc(n_doms + 1, sizeof *xmls);
    char **specs = vnet_xcalloc(n_doms + 1, sizeof *specs);
    struct ovs_port_spec *ports = vnet_xcalloc(n_nics + 1, sizeof *ports);
    struct ovs_mirror_spec *mirrors = vnet_xcalloc(n_mirrors + 1, sizeof *mirrors);
    struct ovs_flowset_spec *sets = vnet_xcalloc(rt->n_plans + 1, sizeof *sets);
    struct ovs_bridge_spec *bridges = vnet_xcalloc(rt->n_plans + 1, sizeof *bridges);
    const char ***set_ports = vnet_xcalloc(rt->n_plans + 1, sizeof *set_ports);
    size_t k = 0, n_lv = 0, n_ports = 0, n_sets = 0, n_bridges = 0;
    n_mirrors = 0;

    for (size_t i = 0; i < rt->n_plans; i++) {
        const struct chain_plan *p = rt->plans[i].plan;
        set_ports[i] = vnet_xcalloc(4 * p->n_nf + 3, sizeof **set_ports);
        size_t n_set_ports = 0;
        for (size_t v = 0; v < p->n_vnodes; v++, k++) {
            const struct vnode_plan *vn = &p->vnodes[v];
            struct vnet_error *error = vnode_xml(rt, p, vn, &xmls[k], &specs[k]);
            if (error) {
                VNLOG_ERR("%s", error->message);
                vnet_error_destroy(error);
                continue;
            }
            doms[n_lv++] = (struct lv_desired) {
                vn->domain, xmls[k], specs[k], true,
                { vn->cpu_shares, vn->cpu_period_us, vn->cpu_quota_us },
            };
            /* A VNode's ports are wanted once it runs: its veths exist only then.
             * Until libvirt has told whether it runs (vnetd just started, or
             * libvirtd is away) its ports are kept as they are: removing them
             * would cut a running production VNode off its traffic.  (The spec is
             * compared here: 'current' may still describe an older desired set.
             * 'known' comes with the state, from the same published listing.) */
            struct lv_domain_status st;
            libvirt_adapter_get_status(rt->lv, vn->domain, &st);
            bool runs = st.state == LV_RUNNING && !strcmp(st.spec, specs[k]);
            for (size_t n = 0; n < vn->n_nics; n++) {
                if (vn->role != VNODE_ROLE_MONITOR) {
                    set_ports[i][n_set_ports++] = vn->nics[n].ifname;
                }
                if (runs || !st.known) {
                    ports[n_ports++] = (struct ovs_port_spec) {
                        p->bridge, vn->nics[n].ifname, vn->nics[n].ofport, p->chain,
                        port_role(vn, n), !runs,
                    };
                }
            }
        }
        for (size_t m = 0; m < p->n_mirrors; m++) {
            const struct mirror_plan *mp = &p->mirrors[m];
            mirrors[n_mirrors++] = (struct ovs_mirror_spec) {
                p->bridge, mp->name, p->chain, mp->select_dst, mp->select_src,
                mp->output, registry_find(reg, p->chain)->monitor->snaplen,
            };
        }
        sets[n_sets++] = (struct ovs_flowset_spec) {
            p->bridge, p->chain, p->cookie, p->cookie_mask,
            (const char *const *) p->flows, p->n_flows, set_ports[i], n_set_ports,
        };
        bool seen = false;
        for (size_t b = 0; b < n_bridges; b++) {
            seen |= !strcmp(bridges[b].name, p->bridge);
        }
        if (!seen) {
            bridges[n_bridges++] = (struct ovs_bridge_spec) { p->bridge, rt->datapath };
        }
    }

    libvirt_adapter_set_desired(rt->lv, doms, n_lv);
    ovs_adapter_set_desired(rt->ovs, bridges, n_bridges, ports, n_ports, sets, n_sets,
                            mirrors, n_mirrors);

    /* What the counters agent samples: every NIC of every NF and endpoint. */
    struct counters_target *targets = vnet_xcalloc(n_nics + 1, sizeof *targets);
    char **names = vnet_xcalloc(n_nics + 1, sizeof *names);
    size_t n_targets = 0;
    for (size_t i = 0; i < rt->n_plans; i++) {
        const struct chain_plan *p = rt->plans[i].plan;
        for (size_t v = 0; v < p->n_vnodes; v++) {
            const struct vnode_plan *vn = &p->vnodes[v];
            if (vn->role == VNODE_ROLE_MONITOR) {
                continue;
            }
            for (size_t n = 0; n < vn->n_nics; n++) {
                names[n_targets] = vnet_xasprintf("%s%s", vn->node, vn->side ? "-b" : "");
                targets[n_targets] = (struct counters_target) {
                    p->chain, p->bridge, names[n_targets], vn->domain, vn->cpus,
                    vn->nics[n].ifname, vn->nics[n].ofport,
                };
                n_targets++;
            }
        }
    }
    counters_set_targets(rt->counters, targets, n_targets);
    for (size_t i = 0; i < n_targets; i++) {
        free(names[i]);
    }
    free(names);
    free(targets);

    for (size_t i = 0; i < k; i++) {
        free(xmls[i]);
        free(specs[i]);
    }
    for (size_t i = 0; i < rt->n_plans; i++) {
        free(set_ports[i]);
    }
    free(set_ports);
    free(xmls);
    free(specs);
    free(doms);
    free(ports);
    free(mirrors);
    free(sets);
    free(bridges);
}

/* The first thing that keeps VNode 'vn' from serving, or NULL if it runs its
 * current definition, its program answers and its ports are ready (the message is
 * written to 'buf').  '*failed': libvirt reported an error acting on it. */
static const char *
vnode_problem(struct chain_runtime *rt, const struct vnode_plan *vn, char *buf,
              size_t size, bool *failed)
{
    struct lv_domain_status st;
    libvirt_adapter_get_status(rt->lv, vn->domain, &st);
    *failed = st.error[0] != '\0';
    if (*failed) {
        snprintf(buf, size, "VNode '%s' (%s): %s", vn->node, vn->domain, st.error);
    } else if (st.state != LV_RUNNING) {
        snprintf(buf, size, "VNode '%s' (%s) is %s", vn->node, vn->domain,
                 st.state == LV_ABSENT ? "missing" : "not running");
    } else if (!st.current) {
        snprintf(buf, size, "VNode '%s' (%s) is being redefined", vn->node,
                 vn->domain);
    } else if (vn->control && !vnet_unix_socket_live(vn->control)) {
        /* A started container is not yet a working NF: vnet-nf opens its control
         * socket after its packet sockets, so an answer there means it forwards. */
        snprintf(buf, size, "VNode '%s' (%s): its program does not answer on %s",
                 vn->node, vn->domain, vn->control);
    } else {
        for (size_t n = 0; n < vn->n_nics; n++) {
            struct ovs_port_status ps;
            ovs_adapter_port_status(rt->ovs, vn->nics[n].ifname, &ps);
            if (ps.state != OVS_PORT_READY) {
                snprintf(buf, size, "VNode '%s': port '%s' is %s%s%s", vn->node,
                         vn->nics[n].ifname, ps.state == OVS_PORT_ABSENT ? "missing"
                         : ps.state == OVS_PORT_PENDING ? "pending" : "failing",
                         ps.error[0] ? ": " : "", ps.error);
                return buf;
            }
        }
        return NULL;
    }
    return buf;
}

/* For held operations: NULL if the VNode is ready, "" if it is still converging,
 * or the error libvirt reported (in 'buf'). */
static const char *
vnode_progress(struct chain_runtime *rt, const struct vnode_plan *vn, char *buf,
               size_t size)
{
    bool failed;
    const char *why = vnode_problem(rt, vn, buf, size, &failed);
    return !why ? NULL : failed ? why : "";
}

const char *
chain_runtime_side_progress(struct chain_runtime *rt, const struct chain_entry *e,
                            int side, char *buf, size_t size)
{
    const struct chain_plan *p = find_plan(rt, e->name);
    if (!p) {
        return "";
    }
    for (size_t v = 0; v < p->n_vnodes; v++) {
        const struct vnode_plan *vn = &p->vnodes[v];
        bool failed;
        if (vn->role == VNODE_ROLE_NF && vn->side == side
            && vnode_problem(rt, vn, buf, size, &failed)) {
            return buf;
        }
    }
    return NULL;
}

/* The same for the chain's rules alone: installed in OVS (a swap). */
static const char *
flows_progress(struct chain_runtime *rt, const struct chain_plan *p, char *buf,
               size_t size)
{
    const char *ferr = ovs_adapter_flows_error(rt->ovs, p->chain);
    if (ferr) {
        snprintf(buf, size, "%s", ferr);
        return buf;
    }
    return ovs_adapter_flows_installed(rt->ovs, p->chain) ? NULL : "";
}

/* The same for the whole chain ('monitor': only its Monitoring VNet). */
static const char *
chain_progress(struct chain_runtime *rt, const struct chain_plan *p, bool monitor,
               char *buf, size_t size)
{
    bool ready = libvirt_adapter_up_to_date(rt->lv);
    for (size_t v = 0; v < p->n_vnodes; v++) {
        const struct vnode_plan *vn = &p->vnodes[v];
        if (monitor != (vn->role == VNODE_ROLE_MONITOR)) {
            continue;
        }
        const char *why = vnode_progress(rt, vn, buf, size);
        if (why && *why) {
            return why;
        }
        ready &= !why;
    }
    if (monitor) {
        for (size_t m = 0; m < p->n_mirrors; m++) {
            ready &= ovs_adapter_mirror_ready(rt->ovs, p->mirrors[m].name);
        }
        return ready && p->n_mirrors ? NULL : "";
    }
    const char *ferr = ovs_adapter_flows_error(rt->ovs, p->chain);
    if (ferr) {
        snprintf(buf, size, "%s", ferr);
        return buf;
    }
    ready &= ovs_adapter_flows_installed(rt->ovs, p->chain);
    return ready ? NULL : "";
}

static bool
adapters_settled(struct chain_runtime *rt)
{
    return libvirt_adapter_connected(rt->lv) && libvirt_adapter_converged(rt->lv)
           && ovs_adapter_connected(rt->ovs) && ovs_adapter_converged(rt->ovs);
}

static bool
torn_down(struct chain_runtime *rt, const char *chain)
{
    return adapters_settled(rt) && !libvirt_adapter_n_owned(rt->lv, chain)
           && !ovs_adapter_n_owned(rt->ovs, chain);
}

/* True once no VNode of 'e' selected by 'sel' (and none of their ports) is left,
 * nor -- for the monitor -- any of its mirrors. */
enum vnode_selector { SEL_MONITOR, SEL_INACTIVE_SIDE };

static bool
vnodes_gone(struct chain_runtime *rt, const struct chain_entry *e,
            enum vnode_selector sel)
{
    if (!adapters_settled(rt)) {
        return false;
    }
    struct chain_plan *p;
    struct vnet_error *error = make_plan_sides(rt, e, true, true, &p);
    if (error) {
        /* Without a plan there is nothing the runtime could have made. */
        vnet_error_destroy(error);
        return true;
    }
    int inactive = !chain_entry_active_side(e);
    bool gone = true;
    for (size_t v = 0; v < p->n_vnodes; v++) {
        const struct vnode_plan *vn = &p->vnodes[v];
        bool selected = sel == SEL_MONITOR ? vn->role == VNODE_ROLE_MONITOR
                        : vn->role == VNODE_ROLE_NF && vn->side == inactive;
        if (!selected) {
            continue;
        }
        struct lv_domain_status st;
        libvirt_adapter_get_status(rt->lv, vn->domain, &st);
        gone &= st.state == LV_ABSENT;
        for (size_t n = 0; n < vn->n_nics; n++) {
            struct ovs_port_status ps;
            ovs_adapter_port_status(rt->ovs, vn->nics[n].ifname, &ps);
            gone &= ps.state == OVS_PORT_ABSENT;
        }
    }
    for (size_t m = 0; sel == SEL_MONITOR && m < p->n_mirrors; m++) {
        gone &= !ovs_adapter_mirror_ready(rt->ovs, p->mirrors[m].name)
                && !ovs_adapter_mirror_packets(rt->ovs, p->mirrors[m].name);
    }
    chain_plan_destroy(p);
    return gone;
}

static void
finish_op(struct chain_runtime *rt, size_t i, struct json_object *result,
          struct vnet_error *error)
{
    struct held_op *op = &rt->ops[i];
    crashpoint("reply");
    if (error) {
        control_request_fail(op->req, error);
    } else {
        control_request_reply(op->req, result);
    }
    free(op->chain);
    rt->ops[i] = rt->ops[--rt->n_ops];
}

/* Answers every held request of 'op' on 'chain'. */
static void
finish_ops(struct chain_runtime *rt, const char *chain, enum chain_op op,
           struct json_object *result, const struct vnet_error *error)
{
    for (size_t k = 0; k < rt->n_ops;) {
        if (!strcmp(rt->ops[k].chain, chain) && rt->ops[k].op == op) {
            finish_op(rt, k, result ? json_object_get(result) : NULL,
                      error ? vnet_error_create(error->tag, "%s", error->message)
                            : NULL);
        } else {
            k++;
        }
    }
    json_object_put(result);
}

/* Completes teardowns whose objects are all gone, with or without a client
 * waiting (a restarted vnetd finishes what a previous one began). */
static void
finish_teardowns(struct chain_runtime *rt)
{
    struct registry *reg = &rt->d->registry;
    for (size_t i = 0; i < reg->n_chains;) {
        struct chain_entry *e = reg->chains[i];
        char *name = vnet_xstrdup(e->name);
        if (e->state == CHAIN_RUNNING && e->shadow && e->shadow->retiring
            && vnodes_gone(rt, e, SEL_INACTIVE_SIDE)) {
            struct json_object *before = registry_to_json(reg);
            struct shadow_spec *sh = e->shadow;
            int retired = !sh->active;
            if (retired == e->base_side) {
                /* The clones serve production from now on: they become the base. */
                struct chain_template *t = e->tmpl;
                e->tmpl = sh->tmpl;
                sh->tmpl = t;
                e->base_side = sh->active;
            }
            shadow_spec_destroy(sh);
            e->shadow = NULL;
            struct vnet_error *error = vnetd_commit(rt->d, before);
            VNLOG_INFO("Shadow VNet of chain '%s' retired (side %d removed)", name,
                       retired);
            struct json_object *result = json_object_new_object();
            json_object_object_add(result, "retired", json_object_new_string(name));
            json_object_object_add(result, "removed_side", json_object_new_int(retired));
            finish_ops(rt, name, CHAIN_OP_RETIRE, result, error);
            vnet_error_destroy(error);
        }
        if (e->state == CHAIN_RUNNING && e->monitor && e->monitor->removing
            && vnodes_gone(rt, e, SEL_MONITOR)) {
            struct json_object *before = registry_to_json(reg);
            monitor_spec_destroy(e->monitor);
            e->monitor = NULL;
            struct vnet_error *error = vnetd_commit(rt->d, before);
            VNLOG_INFO("Monitoring VNet of chain '%s' removed", name);
            struct json_object *result = json_object_new_object();
            json_object_object_add(result, "unmirrored", json_object_new_string(name));
            finish_ops(rt, name, CHAIN_OP_UNMIRROR, result, error);
            vnet_error_destroy(error);
        }
        if (e->state == CHAIN_DELETING && torn_down(rt, name)) {
            bool remove = e->remove_when_gone;
            struct json_object *before = registry_to_json(reg);
            if (remove) {
                registry_remove(reg, name);
            } else {
                e->state = CHAIN_DEFINED;
                monitor_spec_destroy(e->monitor);
                e->monitor = NULL;
                shadow_spec_destroy(e->shadow);
                e->shadow = NULL;
            }
            struct vnet_error *error = vnetd_commit(rt->d, before);
            VNLOG_INFO("chain '%s' torn down%s", name, remove ? " and removed" : "");
            struct json_object *result = json_object_new_object();
            json_object_object_add(result, "deleted", json_object_new_string(name));
            finish_ops(rt, name, CHAIN_OP_DELETE, result, error);
            vnet_error_destroy(error);
            free(name);
            if (remove) {
                continue;
            }
            i++;
            continue;
        }
        free(name);
        i++;
    }
}

static void
check_ops(struct chain_runtime *rt)
{
    uint64_t now = vnet_mono_ns();
    for (size_t i = 0; i < rt->n_ops;) {
        struct held_op *op = &rt->ops[i];
        struct chain_entry *e = registry_find(&rt->d->registry, op->chain);
        bool late = now > op->deadline_ns;
        if (op->op == CHAIN_OP_DELETE || op->op == CHAIN_OP_UNMIRROR
            || op->op == CHAIN_OP_RETIRE) {
            /* finish_teardowns() answers; only give up here. */
            if (late) {
                finish_op(rt, i, NULL, vnet_error_create(
                              VNET_ERR_SUBSTRATE, "'%s' is still being torn down after "
                              "%u s; vnetd keeps trying (see 'chain show')", op->chain,
                              rt->op_timeout_s));
                continue;
            }
            i++;
            continue;
        }
        bool monitor = op->op == CHAIN_OP_MIRROR;
        bool shadow_op = op->op == CHAIN_OP_CONVERGE || op->op == CHAIN_OP_SWAP;
        if (!e || e->state != CHAIN_RUNNING || (monitor && (!e->monitor
                                                             || e->monitor->removing))) {
            finish_op(rt, i, NULL, vnet_error_create(
                          VNET_ERR_BUSY, "'%s' was deleted or failed meanwhile%s%s",
                          op->chain, e && e->last_error ? ": " : "",
                          e && e->last_error ? e->last_error : ""));
            continue;
        }
        const struct chain_plan *p = find_plan(rt, op->chain);
        char buf[400];
        const char *why = !p ? ""
                          : op->op == CHAIN_OP_SWAP ? flows_progress(rt, p, buf, sizeof buf)
                          : chain_progress(rt, p, monitor, buf, sizeof buf);
        if (why && !*why && late) {
            why = (!libvirt_adapter_connected(rt->lv)
                   ? "timed out: libvirtd does not answer"
                   : !ovs_adapter_connected(rt->ovs)
                   ? "timed out: ovsdb-server does not answer"
                   : "timed out waiting for the VNodes, ports, mirrors and rules");
        }
        if (!why) {
            VNLOG_INFO("chain '%s': %s", op->chain,
                       monitor ? "Monitoring VNet running" : "running");
            finish_op(rt, i, chain_runtime_describe(rt, e), NULL);
            continue;
        }
        if (*why) {
            char *msg = vnet_xasprintf("%s of chain '%s' failed: %s%s",
                                       monitor ? "the Monitoring VNet"
                                       : shadow_op ? "the shadow operation" : "creation",
                                       op->chain, why,
                                       shadow_op ? "" : "; rolled back");
            VNLOG_WARN("%s", msg);
            if (monitor) {
                fail_monitor(rt, e, msg);
            } else if (!shadow_op) {
                fail_chain(rt, e, msg);
            }
            finish_op(rt, i, NULL, vnet_error_create(VNET_ERR_SUBSTRATE, "%s", msg));
            free(msg);
            continue;
        }
        i++;
    }
}

/* Ends the drain periods that are over (the plans then stop delivering what the
 * shadow side emits); remembers in 'next_drain_ms' when the next one ends (-1:
 * none). */
static void
drains_run(struct chain_runtime *rt)
{
    uint64_t now = vnet_mono_ns();
    long long next = -1;
    for (size_t i = 0; i < rt->d->registry.n_chains; i++) {
        struct shadow_spec *sh = rt->d->registry.chains[i]->shadow;
        if (!sh || !sh->drain_until_ns) {
            continue;
        }
        if (now >= sh->drain_until_ns) {
            sh->drain_until_ns = 0;
            rt->dirty = true;
        } else {
            long long ms = (long long) ((sh->drain_until_ns - now) / 1000000) + 1;
            next = next < 0 || ms < next ? ms : next;
        }
    }
    rt->next_drain_ms = next < 0 ? -1 : time_msec() + next;
}

/* ---- health ---------------------------------------------------------------- */

static bool
chain_busy(const struct chain_runtime *rt, const char *chain)
{
    for (size_t i = 0; i < rt->n_ops; i++) {
        if (!strcmp(rt->ops[i].chain, chain)) {
            return true;
        }
    }
    return false;
}

/* Re-evaluates the health of every VNet: production (the side serving it and the
 * endpoints, its rules), monitoring (the monitoring VNode, its mirrors) and shadow
 * (the other side's NFs). */
static void
update_health(struct chain_runtime *rt)
{
    const char *common = NULL;
    if (!libvirt_adapter_connected(rt->lv)) {
        common = "libvirtd is unreachable (VNodes keep running; vnetd reconnects)";
    } else if (!ovs_adapter_connected(rt->ovs)) {
        common = "ovsdb-server is unreachable (vnetd reconnects; ovs-vswitchd with the "
                 "userspace datapath forwards nothing until it has reconnected too)";
    }
    int64_t now = time_wall_msec();
    health_begin(rt->health);
    for (size_t i = 0; i < rt->n_plans; i++) {
        const struct chain_plan *p = rt->plans[i].plan;
        const struct chain_entry *e = registry_find(&rt->d->registry, p->chain);
        if (!e) {
            continue;
        }
        int active = chain_entry_active_side(e);
        static const char *const names[] = { "production", "monitoring", "shadow" };
        const char *problem[3] = { NULL, NULL, NULL };
        bool exists[3] = { true, false, e->shadow != NULL };
        char bufs[3][512];
        for (size_t v = 0; v < p->n_vnodes; v++) {
            const struct vnode_plan *vn = &p->vnodes[v];
            int k = vn->role == VNODE_ROLE_MONITOR ? 1
                    : vn->role == VNODE_ROLE_NF && vn->side != active ? 2 : 0;
            exists[k] = true;
            bool failed;
            if (!problem[k]) {
                problem[k] = vnode_problem(rt, vn, bufs[k], sizeof bufs[k], &failed);
            }
        }
        if (!problem[0] && !ovs_adapter_switch_connected(rt->ovs, p->bridge)) {
            snprintf(bufs[0], sizeof bufs[0], "no OpenFlow connection to ovs-vswitchd "
                     "for bridge '%s' (restarted? its rules are re-installed once it "
                     "is back)", p->bridge);
            problem[0] = bufs[0];
        }
        if (!problem[0] && !ovs_adapter_flows_installed(rt->ovs, p->chain)) {
            const char *ferr = ovs_adapter_flows_error(rt->ovs, p->chain);
            snprintf(bufs[0], sizeof bufs[0], "rules not installed%s%s",
                     ferr ? ": " : "", ferr ? ferr : "");
            problem[0] = bufs[0];
        }
        for (size_t m = 0; m < p->n_mirrors && !problem[1]; m++) {
            if (!ovs_adapter_mirror_ready(rt->ovs, p->mirrors[m].name)) {
                snprintf(bufs[1], sizeof bufs[1], "mirror '%s' is not in place",
                         p->mirrors[m].name);
                problem[1] = bufs[1];
            }
        }
        bool busy = chain_busy(rt, p->chain);
        for (int k = 0; k < 3; k++) {
            if (!exists[k]) {
                continue;
            }
            if (busy) {
                health_keep(rt->health, p->chain, names[k]);
            } else {
                health_report(rt->health, p->chain, names[k],
                              common ? common : problem[k], now);
            }
        }
    }
    health_end(rt->health);
}

void
chain_runtime_run(struct chain_runtime *rt)
{
    drains_run(rt);
    bool lv_changed = libvirt_adapter_run(rt->lv);
    bool ovs_changed = ovs_adapter_run(rt->ovs);
    bool was_dirty = rt->dirty;
    if (rt->dirty || lv_changed) {
        rt->dirty = false;
        push_desired(rt);
    }
    counters_run(rt->counters);
    if (was_dirty || lv_changed || ovs_changed || rt->n_ops) {
        check_ops(rt);
        finish_teardowns(rt);
    }
    if (was_dirty || lv_changed || ovs_changed || time_msec() >= rt->next_health) {
        update_health(rt);
        rt->next_health = time_msec() + 500;
    }
}

void
chain_runtime_wait(struct chain_runtime *rt)
{
    libvirt_adapter_wait(rt->lv);
    ovs_adapter_wait(rt->ovs);
    counters_wait(rt->counters);
    if (rt->n_ops) {
        poll_timer_wait(50);        /* NF readiness is polled, not signalled */
    }
    poll_timer_wait_until(rt->next_health);
    if (rt->next_drain_ms >= 0) {
        poll_timer_wait_until(rt->next_drain_ms);
    }
    if (rt->dirty) {
        poll_immediate_wake();
    }
}

void
chain_runtime_hold(struct chain_runtime *rt, struct chain_entry *e, enum chain_op op,
                   struct control_request *req)
{
    rt->ops = vnet_xrealloc(rt->ops, (rt->n_ops + 1) * sizeof *rt->ops);
    rt->ops[rt->n_ops++] = (struct held_op) {
        vnet_xstrdup(e->name), req, op,
        vnet_mono_ns() + (uint64_t) rt->op_timeout_s * 1000000000ull,
    };
    chain_runtime_changed(rt);
}

struct counters *
chain_runtime_counters(struct chain_runtime *rt)
{
    return rt->counters;
}

const char *
chain_runtime_monitor_control(struct chain_runtime *rt, const struct chain_entry *e)
{
    const struct chain_plan *p = find_plan(rt, e->name);
    for (size_t v = 0; p && v < p->n_vnodes; v++) {
        if (p->vnodes[v].role == VNODE_ROLE_MONITOR) {
            return p->vnodes[v].control;
        }
    }
    return NULL;
}

static const char *const port_states[] = { "absent", "pending", "ready", "error" };

static struct json_object *
describe_nic(struct chain_runtime *rt, const struct vnode_nic *nic)
{
    struct ovs_port_status ps;
    ovs_adapter_port_status(rt->ovs, nic->ifname, &ps);
    char mac[18];
    struct json_object *no = json_object_new_object();
    json_object_object_add(no, "port", json_object_new_string(nic->ifname));
    json_object_object_add(no, "guest", json_object_new_string(nic->guest));
    json_object_object_add(no, "mac", json_object_new_string(
                               vnet_mac_to_string(nic->mac, mac)));
    json_object_object_add(no, "ofport", json_object_new_int(nic->ofport));
    json_object_object_add(no, "port_state",
                           json_object_new_string(port_states[ps.state]));
    if (ps.error[0]) {
        json_object_object_add(no, "error", json_object_new_string(ps.error));
    }
    /* OVS counts from the switch's side: what it sent to the VNode is the VNode's
     * input. */
    json_object_object_add(no, "to_vnode_packets",
                           json_object_new_int64((int64_t) ps.tx_packets));
    json_object_object_add(no, "from_vnode_packets",
                           json_object_new_int64((int64_t) ps.rx_packets));
    json_object_object_add(no, "to_vnode_dropped",
                           json_object_new_int64((int64_t) ps.tx_dropped));
    json_object_object_add(no, "from_vnode_dropped",
                           json_object_new_int64((int64_t) ps.rx_dropped));
    return no;
}

struct json_object *
chain_runtime_describe(struct chain_runtime *rt, const struct chain_entry *e)
{
    struct json_object *obj = chain_entry_to_json(e, false);
    const struct chain_plan *p = find_plan(rt, e->name);
    if (!p) {
        return obj;
    }
    json_object_object_add(obj, "bridge", json_object_new_string(p->bridge));
    struct json_object *vnodes = json_object_new_array();
    for (size_t v = 0; v < p->n_vnodes; v++) {
        const struct vnode_plan *vn = &p->vnodes[v];
        struct lv_domain_status st;
        libvirt_adapter_get_status(rt->lv, vn->domain, &st);
        struct json_object *vo = json_object_new_object();
        json_object_object_add(vo, "node", json_object_new_string(vn->node));
        json_object_object_add(vo, "role",
                               json_object_new_string(vnode_role_to_string(vn->role)));
        if (vn->role == VNODE_ROLE_NF) {
            json_object_object_add(vo, "side", json_object_new_int(vn->side));
            json_object_object_add(vo, "serves", json_object_new_string(
                                       vn->side == p->active ? "production" : "shadow"));
        }
        json_object_object_add(vo, "domain", json_object_new_string(vn->domain));
        json_object_object_add(vo, "state", json_object_new_string(
                                   lv_domain_state_to_string(st.state)));
        if (st.error[0]) {
            json_object_object_add(vo, "error", json_object_new_string(st.error));
        }
        if (vn->control) {
            json_object_object_add(vo, "control", json_object_new_string(vn->control));
        }
        if (vn->cpuset) {
            json_object_object_add(vo, "cpuset", json_object_new_string(vn->cpuset));
        }
        struct json_object *nics = json_object_new_array();
        for (size_t n = 0; n < vn->n_nics; n++) {
            json_object_array_add(nics, describe_nic(rt, &vn->nics[n]));
        }
        json_object_object_add(vo, "nics", nics);
        json_object_array_add(vnodes, vo);
    }
    json_object_object_add(obj, "vnodes", vnodes);
    if (p->n_mirrors) {
        struct json_object *mirrors = json_object_new_array();
        for (size_t m = 0; m < p->n_mirrors; m++) {
            const struct mirror_plan *mp = &p->mirrors[m];
            struct json_object *mo = json_object_new_object();
            json_object_object_add(mo, "name", json_object_new_string(mp->name));
            json_object_object_add(mo, "copies", json_object_new_string(mp->what));
            json_object_object_add(mo, "output", json_object_new_string(mp->output));
            json_object_object_add(mo, "ready", json_object_new_boolean(
                                       ovs_adapter_mirror_ready(rt->ovs, mp->name)));
            json_object_object_add(mo, "packets", json_object_new_int64(
                                       (int64_t) ovs_adapter_mirror_packets(rt->ovs,
                                                                            mp->name)));
            json_object_array_add(mirrors, mo);
        }
        json_object_object_add(obj, "mirrors", mirrors);
    }
    struct json_object *rules = json_object_new_object();
    json_object_object_add(rules, "count", json_object_new_int((int) p->n_flows));
    json_object_object_add(rules, "installed", json_object_new_boolean(
                               ovs_adapter_flows_installed(rt->ovs, e->name)));
    const char *ferr = ovs_adapter_flows_error(rt->ovs, e->name);
    if (ferr) {
        json_object_object_add(rules, "error", json_object_new_string(ferr));
    }
    json_object_object_add(obj, "rules", rules);
    return obj;
}

struct json_object *
chain_runtime_status(struct chain_runtime *rt)
{
    struct json_object *obj = json_object_new_object();
    struct json_object *lv = json_object_new_object();
    json_object_object_add(lv, "uri", json_object_new_string(rt->libvirt_uri));
    json_object_object_add(lv, "connected", json_object_new_boolean(
                               libvirt_adapter_connected(rt->lv)));
    json_object_object_add(obj, "libvirt", lv);
    struct json_object *ovs = json_object_new_object();
    json_object_object_add(ovs, "db", json_object_new_string(rt->ovs_db));
    json_object_object_add(ovs, "datapath", json_object_new_string(rt->datapath));
    json_object_object_add(ovs, "connected", json_object_new_boolean(
                               ovs_adapter_connected(rt->ovs)));
    json_object_object_add(ovs, "last_bundle_us", json_object_new_int64(
                               (int64_t) ovs_adapter_last_bundle_us(rt->ovs)));
    json_object_object_add(obj, "ovs", ovs);
    json_object_object_add(obj, "counters", counters_status(rt->counters));
    /* As last evaluated (on every change the adapters see, and every 500 ms): a
     * status call must not probe every NF of every chain. */
    json_object_object_add(obj, "health", health_to_json(rt->health));
    return obj;
}
