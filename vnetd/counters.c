#include "vnetd/counters.h"

#include <config.h>

#include <errno.h>
#include <glob.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "openvswitch/poll-loop.h"
#include "openvswitch/util.h"
#include "diag/perfsight.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"
#include "vnetd/ovs-adapter.h"

VNLOG_DEFINE_THIS_MODULE(counters);

#define INTERVAL_NS 100000000ull
#define RING 128

struct elem_hist {
    char *key;                  /* unique: "<chain>/<vnode>/<ifname>", "cpu3", ... */
    char *chain;                /* NULL: shared by every chain */
    struct perfsight_elem proto;/* name, kind, vnode, bits, drops, capacity */
    char *name, *vnode;
    struct elem_stats ring[RING];
    size_t n, head;             /* samples held, next slot */
    bool fresh;                 /* sampled this round */
};

struct counters {
    struct ovs_adapter *ovs;
    struct counters_target *targets;
    size_t n_targets;
    char **cgroup_cache_domain, **cgroup_cache_path;
    size_t n_cgroup_cache;
    struct elem_hist *elems;
    size_t n_elems, cap_elems;
    uint64_t next_ns;
    uint64_t samples;
    uint64_t cpu_ns;            /* spent sampling */
    long n_cpus;
    long clk_tck;
};

struct counters *
counters_create(struct ovs_adapter *ovs)
{
    struct counters *c = vnet_xzalloc(sizeof *c);
    c->ovs = ovs;
    c->n_cpus = sysconf(_SC_NPROCESSORS_CONF);
    c->clk_tck = sysconf(_SC_CLK_TCK);
    return c;
}

static void
free_targets(struct counters *c)
{
    for (size_t i = 0; i < c->n_targets; i++) {
        struct counters_target *t = &c->targets[i];
        free((char *) t->chain);
        free((char *) t->bridge);
        free((char *) t->vnode);
        free((char *) t->domain);
        free((char *) t->ifname);
    }
    free(c->targets);
    c->targets = NULL;
    c->n_targets = 0;
}

void
counters_destroy(struct counters *c)
{
    if (!c) {
        return;
    }
    free_targets(c);
    for (size_t i = 0; i < c->n_elems; i++) {
        free(c->elems[i].key);
        free(c->elems[i].chain);
        free(c->elems[i].name);
        free(c->elems[i].vnode);
    }
    free(c->elems);
    for (size_t i = 0; i < c->n_cgroup_cache; i++) {
        free(c->cgroup_cache_domain[i]);
        free(c->cgroup_cache_path[i]);
    }
    free(c->cgroup_cache_domain);
    free(c->cgroup_cache_path);
    free(c);
}

void
counters_set_targets(struct counters *c, const struct counters_target *t, size_t n)
{
    free_targets(c);
    c->targets = vnet_xcalloc(n + 1, sizeof *c->targets);
    for (size_t i = 0; i < n; i++) {
        c->targets[i] = (struct counters_target) {
            vnet_xstrdup(t[i].chain), vnet_xstrdup(t[i].bridge), vnet_xstrdup(t[i].vnode),
            vnet_xstrdup(t[i].domain), t[i].cpus, vnet_xstrdup(t[i].ifname),
            t[i].ofport,
        };
    }
    c->n_targets = n;
}

/* Finds or creates the history of element 'key'. */
static struct elem_hist *
elem(struct counters *c, const char *key, const char *chain, const char *name,
     enum perfsight_kind kind, const char *vnode, unsigned bits, bool drops,
     double capacity)
{
    for (size_t i = 0; i < c->n_elems; i++) {
        if (!strcmp(c->elems[i].key, key)) {
            return &c->elems[i];
        }
    }
    vnet_grow((void **) &c->elems, &c->cap_elems, c->n_elems + 1, sizeof *c->elems);
    struct elem_hist *e = &c->elems[c->n_elems++];
    memset(e, 0, sizeof *e);
    e->key = vnet_xstrdup(key);
    e->chain = chain ? vnet_xstrdup(chain) : NULL;
    e->name = vnet_xstrdup(name);
    e->vnode = vnode ? vnet_xstrdup(vnode) : NULL;
    e->proto.kind = kind;
    e->proto.counter_bits = bits;
    e->proto.explicit_drops = drops;
    e->proto.capacity = capacity;
    return e;
}

static void
push(struct elem_hist *e, const struct elem_stats *s)
{
    e->ring[e->head] = *s;
    e->head = (e->head + 1) % RING;
    if (e->n < RING) {
        e->n++;
    }
    e->fresh = true;
}

static void
sample_ports(struct counters *c, uint64_t now)
{
    /* One request per bridge. */
    for (size_t i = 0; i < c->n_targets; i++) {
        const char *bridge = c->targets[i].bridge;
        bool done = false;
        for (size_t k = 0; k < i; k++) {
            done |= !strcmp(c->targets[k].bridge, bridge);
        }
        if (done) {
            continue;
        }
        struct ovs_port_counters *pc;
        int n = ovs_adapter_dump_ports(c->ovs, bridge, &pc);
        if (n < 0) {
            continue;
        }
        for (size_t k = i; k < c->n_targets; k++) {
            const struct counters_target *t = &c->targets[k];
            if (strcmp(t->bridge, bridge)) {
                continue;
            }
            for (int p = 0; p < n; p++) {
                if (pc[p].ofport != t->ofport) {
                    continue;
                }
                char *key = vnet_xasprintf("%s/%s/%s", t->chain, t->vnode, t->ifname);
                struct elem_hist *e = elem(c, key, t->chain, t->ifname, PERFSIGHT_VETH,
                                           t->vnode, 64, true, 0);
                free(key);
                /* Toward the VNode: what the switch sent, and what it could not. */
                struct elem_stats s = {
                    .ts_ns = now,
                    .in_pkts = pc[p].tx_packets, .in_bytes = pc[p].tx_bytes,
                    .out_pkts = pc[p].tx_packets, .out_bytes = pc[p].tx_bytes,
                    .drops = pc[p].tx_dropped,
                };
                push(e, &s);
            }
        }
        free(pc);
    }
}

/* Finds (and caches) the cgroup directory of 'domain' for 'controller'. */
static char *
cgroup_dir(struct counters *c, const char *domain, const char *controller)
{
    char *key = vnet_xasprintf("%s|%s", controller, domain);
    for (size_t i = 0; i < c->n_cgroup_cache; i++) {
        if (!strcmp(c->cgroup_cache_domain[i], key)) {
            free(key);
            if (!access(c->cgroup_cache_path[i], F_OK)) {
                return vnet_xstrdup(c->cgroup_cache_path[i]);
            }
            return NULL;    /* the VNode restarted: glob again next time */
        }
    }
    /* libvirt's LXC driver names it lxc-<controller pid>-<domain>.libvirt-lxc; the
     * domain name is validated (no glob metacharacters). */
    char *pattern = vnet_xasprintf("/sys/fs/cgroup/%s/machine/lxc-*-%s.libvirt-lxc",
                                   controller, domain);
    glob_t g;
    char *found = NULL;
    if (!glob(pattern, 0, NULL, &g) && g.gl_pathc) {
        found = vnet_xstrdup(g.gl_pathv[g.gl_pathc - 1]);
    }
    globfree(&g);
    free(pattern);
    if (found) {
        c->cgroup_cache_domain = vnet_xrealloc(c->cgroup_cache_domain,
                                               (c->n_cgroup_cache + 1) * sizeof(char *));
        c->cgroup_cache_path = vnet_xrealloc(c->cgroup_cache_path,
                                             (c->n_cgroup_cache + 1) * sizeof(char *));
        c->cgroup_cache_domain[c->n_cgroup_cache] = key;
        c->cgroup_cache_path[c->n_cgroup_cache++] = vnet_xstrdup(found);
    } else {
        free(key);
    }
    return found;
}

static bool
read_u64(const char *path, uint64_t *ret)
{
    FILE *f = fopen(path, "re");
    unsigned long long v;
    bool ok = f && fscanf(f, "%llu", &v) == 1;
    if (f) {
        fclose(f);
    }
    if (ok) {
        *ret = v;
    }
    return ok;
}

/* Reads "key value" lines of a cgroup stat file. */
static bool
read_keyed(const char *path, const char *key, uint64_t *ret)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        return false;
    }
    char name[64];
    unsigned long long v;
    bool found = false;
    while (fscanf(f, "%63s %llu", name, &v) == 2) {
        if (!strcmp(name, key)) {
            *ret = v;
            found = true;
            break;
        }
    }
    fclose(f);
    return found;
}

static void
sample_vnode_cpu(struct counters *c, uint64_t now)
{
    for (size_t i = 0; i < c->n_targets; i++) {
        const struct counters_target *t = &c->targets[i];
        bool done = false;
        for (size_t k = 0; k < i; k++) {
            done |= !strcmp(c->targets[k].domain, t->domain);
        }
        if (done) {
            continue;
        }
        char *acct = cgroup_dir(c, t->domain, "cpuacct");
        char *cpu = cgroup_dir(c, t->domain, "cpu");
        struct elem_stats s = { .ts_ns = now };
        bool ok = false;
        if (acct) {
            char *p = vnet_xasprintf("%s/cpuacct.usage", acct);
            ok = read_u64(p, &s.cpu_ns);
            free(p);
        }
        if (cpu) {
            char *p = vnet_xasprintf("%s/cpu.stat", cpu);
            read_keyed(p, "throttled_time", &s.throttled_ns);
            free(p);
        }
        free(acct);
        free(cpu);
        if (ok) {
            char *key = vnet_xasprintf("%s/%s/cpu", t->chain, t->vnode);
            char *name = vnet_xasprintf("%s-cpu", t->vnode);
            struct elem_hist *e = elem(c, key, t->chain, name, PERFSIGHT_VNODE_CPU,
                                       t->vnode, 64, false, t->cpus);
            push(e, &s);
            free(key);
            free(name);
        }
    }
}

static void
sample_host(struct counters *c, uint64_t now)
{
    /* softnet_stat: one line of hex counters per CPU (32 bits wide). */
    FILE *f = fopen("/proc/net/softnet_stat", "re");
    char line[512];
    for (int cpu = 0; f && fgets(line, sizeof line, f); cpu++) {
        unsigned int processed, dropped;
        if (sscanf(line, "%x %x", &processed, &dropped) != 2) {
            continue;
        }
        char key[32];
        snprintf(key, sizeof key, "backlog%d", cpu);
        struct elem_hist *e = elem(c, key, NULL, key, PERFSIGHT_BACKLOG, NULL, 32, true,
                                   0);
        struct elem_stats s = { .ts_ns = now, .in_pkts = processed,
                                .out_pkts = processed, .drops = dropped };
        push(e, &s);
    }
    if (f) {
        fclose(f);
    }
    f = fopen("/proc/stat", "re");
    unsigned long long user, nice, sys, idle, iowait, irq, softirq, steal;
    if (f && fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &sys,
                    &idle, &iowait, &irq, &softirq, &steal) == 8) {
        uint64_t busy = user + nice + sys + irq + softirq + steal;
        struct elem_hist *e = elem(c, "host-cpu", NULL, "host", PERFSIGHT_HOST_CPU, NULL,
                                   64, false, (double) c->n_cpus);
        struct elem_stats s = { .ts_ns = now,
                                .cpu_ns = busy * (1000000000ull / (uint64_t) c->clk_tck) };
        push(e, &s);
    }
    if (f) {
        fclose(f);
    }
}

static uint64_t
thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

void
counters_run(struct counters *c)
{
    uint64_t now = vnet_mono_ns();
    if (!c->n_targets || now < c->next_ns) {
        return;
    }
    uint64_t cpu0 = thread_cpu_ns();
    c->next_ns = now + INTERVAL_NS;
    sample_ports(c, now);
    sample_vnode_cpu(c, now);
    sample_host(c, now);
    c->samples++;
    c->cpu_ns += thread_cpu_ns() - cpu0;
}

void
counters_wait(struct counters *c)
{
    if (c->n_targets) {
        poll_timer_wait_until((long long int) (c->next_ns / 1000000));
    }
}

/* The snapshot about 'window_ns' before the newest, and the newest. */
static bool
pick(const struct elem_hist *e, uint64_t window_ns, struct elem_stats *s1,
     struct elem_stats *s2)
{
    if (e->n < 2) {
        return false;
    }
    size_t newest = (e->head + RING - 1) % RING;
    *s2 = e->ring[newest];
    *s1 = e->ring[(e->head + RING - e->n) % RING];      /* oldest held */
    for (size_t k = 1; k < e->n; k++) {
        const struct elem_stats *s = &e->ring[(newest + RING - k) % RING];
        if (s2->ts_ns - s->ts_ns >= window_ns) {
            *s1 = *s;
            break;
        }
    }
    return true;
}

struct vnet_error *
counters_diagnose(struct counters *c, const char *chain, uint64_t window_ns,
                  struct perfsight_report **ret)
{
    struct perfsight_elem *in = vnet_xcalloc(c->n_elems + 1, sizeof *in);
    size_t n = 0;
    for (size_t i = 0; i < c->n_elems; i++) {
        struct elem_hist *e = &c->elems[i];
        if (e->chain && strcmp(e->chain, chain)) {
            continue;
        }
        struct perfsight_elem *p = &in[n];
        *p = e->proto;
        p->name = e->name;
        p->vnode = e->vnode;
        if (pick(e, window_ns, &p->s1, &p->s2)) {
            n++;
        }
    }
    if (!n) {
        free(in);
        return vnet_error_create(VNET_ERR_BUSY, "no counters of chain '%s' sampled yet "
                                 "(the agent samples every 100 ms)", chain);
    }
    struct perfsight_config cfg;
    perfsight_config_init(&cfg);
    struct vnet_error *error = perfsight_find_contention(in, n, &cfg, ret);
    free(in);
    return error;
}

struct json_object *
counters_status(const struct counters *c)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "samples", json_object_new_int64((int64_t) c->samples));
    json_object_object_add(o, "elements", json_object_new_int((int) c->n_elems));
    json_object_object_add(o, "interval_ms",
                           json_object_new_int((int) (INTERVAL_NS / 1000000)));
    double per = c->samples ? (double) c->cpu_ns / (double) c->samples / 1e3 : 0;
    json_object_object_add(o, "cpu_us_per_sample", json_object_new_double(per));
    /* The share of one core the agent takes at its sampling rate. */
    json_object_object_add(o, "cpu_share",
                           json_object_new_double(per * 1e3 / (double) INTERVAL_NS));
    return o;
}
