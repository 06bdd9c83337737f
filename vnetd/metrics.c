#include "vnetd/metrics.h"

#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/error.h"
#include "lib/log.h"
#include "lib/rpc-client.h"
#include "lib/util.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/util.h"
#include "vnetd/chain-runtime.h"
#include "vnetd/registry.h"
#include "vnetd/vnetd.h"

VNLOG_DEFINE_THIS_MODULE(metrics);

static struct vnlog_rl rl = VNLOG_RL_INIT(5, 5);

#define AGENT_TIMEOUT_MS 100

struct metrics {
    struct vnetd *d;
    int fd;
};

struct vnet_error *
metrics_open(struct vnetd *d, const char *addr, struct metrics **ret)
{
    char *host = vnet_xstrdup(addr), *colon = strrchr(host, ':');
    unsigned long long port;
    struct sockaddr_storage ss;
    socklen_t len = 0;
    memset(&ss, 0, sizeof ss);
    struct vnet_error *error = NULL;
    if (!colon || vnet_parse_uint(colon + 1, 1, 65535, &port)) {
        error = vnet_error_create(VNET_ERR_INVALID, "--metrics '%s': expected "
                                  "ADDRESS:PORT, e.g. 127.0.0.1:9464", addr);
    } else {
        *colon = '\0';
        char *h = host;
        if (h[0] == '[' && colon > h && colon[-1] == ']') {
            h++;
            colon[-1] = '\0';
        }
        struct sockaddr_in *sin = (struct sockaddr_in *) &ss;
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;
        if (inet_pton(AF_INET, h, &sin->sin_addr) == 1) {
            sin->sin_family = AF_INET;
            sin->sin_port = htons((uint16_t) port);
            len = sizeof *sin;
            if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127) {
                error = vnet_error_create(VNET_ERR_INVALID, "--metrics '%s': only "
                                          "loopback addresses (127.0.0.0/8, ::1)", addr);
            }
        } else if (inet_pton(AF_INET6, h, &sin6->sin6_addr) == 1) {
            sin6->sin6_family = AF_INET6;
            sin6->sin6_port = htons((uint16_t) port);
            len = sizeof *sin6;
            if (!IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr)) {
                error = vnet_error_create(VNET_ERR_INVALID, "--metrics '%s': only "
                                          "loopback addresses (127.0.0.0/8, ::1)", addr);
            }
        } else {
            error = vnet_error_create(VNET_ERR_INVALID, "--metrics '%s': '%s' is not an "
                                      "IP address", addr, h);
        }
    }
    free(host);
    if (error) {
        return error;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0
        || bind(fd, (struct sockaddr *) &ss, len) < 0 || listen(fd, 16) < 0) {
        error = vnet_error_from_errno(-errno, "--metrics '%s'", addr);
        if (fd >= 0) {
            close(fd);
        }
        return error;
    }
    struct metrics *m = vnet_xzalloc(sizeof *m);
    m->d = d;
    m->fd = fd;
    *ret = m;
    VNLOG_INFO("serving Prometheus metrics on %s", addr);
    return NULL;
}

void
metrics_close(struct metrics *m)
{
    if (m) {
        close(m->fd);
        free(m);
    }
}

/* Writes a label value escaped as the exposition format wants. */
static void
label(struct vnet_buf *b, const char *name, const char *value)
{
    vnet_buf_printf(b, "%s=\"", name);
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '"') {
            vnet_buf_printf(b, "\\%c", *p);
        } else if (*p == '\n') {
            vnet_buf_puts(b, "\\n");
        } else {
            char c[2] = { *p, '\0' };
            vnet_buf_puts(b, c);
        }
    }
    vnet_buf_puts(b, "\"");
}

static void
help(struct vnet_buf *b, const char *name, const char *type, const char *text)
{
    vnet_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static double
jnum(struct json_object *o, const char *key)
{
    struct json_object *v;
    return o && json_object_object_get_ex(o, key, &v) ? json_object_get_double(v) : 0;
}

static const char *
jstr(struct json_object *o, const char *key)
{
    struct json_object *v;
    return o && json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

/* One sample: NAME{chain="...",EXTRA} VALUE. */
static void
sample(struct vnet_buf *b, const char *name, const char *chain, const char *extra,
       double v)
{
    vnet_buf_printf(b, "%s{", name);
    label(b, "chain", chain);
    if (extra && *extra) {
        vnet_buf_printf(b, ",%s", extra);
    }
    vnet_buf_printf(b, "} %.9g\n", v);
}

/* The monitoring agent's stats of chain 'e', or NULL. */
static struct json_object *
agent_stats(struct vnetd *d, const struct chain_entry *e)
{
    const char *control = d->runtime ? chain_runtime_monitor_control(d->runtime, e) : NULL;
    struct rpc_client *c;
    if (!control || rpc_client_open(control, &c)) {
        return NULL;
    }
    struct json_object *r = NULL;
    struct vnet_error *error = NULL;
    if (rpc_client_call(c, "stats", NULL, AGENT_TIMEOUT_MS, &r, &error)) {
        vnet_error_destroy(error);
        r = NULL;
    }
    rpc_client_close(c);
    return r;
}

static char *
labels_of(const char *k1, const char *v1, const char *k2, const char *v2)
{
    struct vnet_buf b = VNET_BUF_INITIALIZER;
    label(&b, k1, v1);
    if (k2) {
        vnet_buf_puts(&b, ",");
        label(&b, k2, v2);
    }
    return vnet_buf_steal(&b);
}

static void
nf_metrics(struct vnet_buf *b, const char *chain, struct json_object *stats)
{
    struct json_object *nfs;
    if (!json_object_object_get_ex(stats, "nfs", &nfs)) {
        return;
    }
    json_object_object_foreach(nfs, nf, o) {
        struct json_object *w, *tot;
        json_object_object_get_ex(o, "window", &w);
        json_object_object_get_ex(o, "total", &tot);
        char *l = labels_of("nf", nf, NULL, NULL);
        sample(b, "vnet_nf_arrivals_total", chain, l, jnum(o, "arrivals"));
        sample(b, "vnet_capture_dropped_total", chain, l,
               jnum(o, "capture_drops") + jnum(o, "mirror_port_drops"));
        if (w) {
            sample(b, "vnet_nf_match_ratio", chain, l, jnum(w, "match_rate"));
            static const struct { const char *q, *queue, *lat; } qs[] = {
                { "0.5", "queue_p50", "latency_p50_us" },
                { "0.99", "queue_p99", "latency_p99_us" },
                { "1", "queue_max", "latency_max_us" },
            };
            for (size_t i = 0; i < 3; i++) {
                char *lq = labels_of("nf", nf, "quantile", qs[i].q);
                sample(b, "vnet_nf_queue_packets", chain, lq, jnum(w, qs[i].queue));
                sample(b, "vnet_nf_latency_seconds", chain, lq, jnum(w, qs[i].lat) / 1e6);
                free(lq);
            }
        }
        if (tot) {
            static const char *const classes[][2] = {
                { "tail", "drops_tail" }, { "internal", "drops_internal" },
                { "policy", "drops_policy" },
            };
            for (size_t i = 0; i < 3; i++) {
                char *lc = labels_of("nf", nf, "class", classes[i][0]);
                sample(b, "vnet_nf_drops_total", chain, lc, jnum(tot, classes[i][1]));
                free(lc);
            }
        }
        free(l);
    }
}

char *
metrics_render(struct vnetd *d)
{
    struct vnet_buf b = VNET_BUF_INITIALIZER;
    help(&b, "vnet_up", "gauge", "1 while vnetd answers");
    vnet_buf_puts(&b, "vnet_up 1\n");
    help(&b, "vnet_chains", "gauge", "chains in vnetd's registry");
    vnet_buf_printf(&b, "vnet_chains %zu\n", d->registry.n_chains);
    struct vnet_buf ports = VNET_BUF_INITIALIZER, nfs = VNET_BUF_INITIALIZER;
    struct vnet_buf chains = VNET_BUF_INITIALIZER, mon = VNET_BUF_INITIALIZER;
    for (size_t i = 0; i < d->registry.n_chains; i++) {
        const struct chain_entry *e = d->registry.chains[i];
        sample(&chains, "vnet_chain_running", e->name, NULL, e->state == CHAIN_RUNNING);
        sample(&chains, "vnet_chain_mirrored", e->name, NULL, e->monitor != NULL);
        sample(&chains, "vnet_chain_shadowed", e->name, NULL, e->shadow != NULL);
        sample(&chains, "vnet_swaps_total", e->name, NULL,
               e->shadow ? (double) e->shadow->swaps : 0);
        if (!d->runtime || e->state != CHAIN_RUNNING) {
            continue;
        }
        struct json_object *desc = chain_runtime_describe(d->runtime, e), *vnodes;
        if (json_object_object_get_ex(desc, "vnodes", &vnodes)) {
            for (size_t v = 0; v < json_object_array_length(vnodes); v++) {
                struct json_object *vn = json_object_array_get_idx(vnodes, v), *nics;
                if (!json_object_object_get_ex(vn, "nics", &nics)) {
                    continue;
                }
                for (size_t n = 0; n < json_object_array_length(nics); n++) {
                    struct json_object *nic = json_object_array_get_idx(nics, n);
                    static const char *const dirs[] = { "to_vnode", "from_vnode" };
                    for (int k = 0; k < 2; k++) {
                        struct vnet_buf l = VNET_BUF_INITIALIZER;
                        label(&l, "vnode", jstr(vn, "node"));
                        vnet_buf_puts(&l, ",");
                        label(&l, "port", jstr(nic, "port"));
                        vnet_buf_puts(&l, ",");
                        label(&l, "direction", dirs[k]);
                        char *ls = vnet_buf_steal(&l);
                        char key[32];
                        snprintf(key, sizeof key, "%s_packets", dirs[k]);
                        sample(&ports, "vnet_vnode_port_packets_total", e->name, ls,
                               jnum(nic, key));
                        snprintf(key, sizeof key, "%s_dropped", dirs[k]);
                        sample(&ports, "vnet_vnode_port_dropped_total", e->name, ls,
                               jnum(nic, key));
                        free(ls);
                    }
                }
            }
        }
        json_object_put(desc);
        if (e->monitor) {
            struct json_object *st = agent_stats(d, e);
            sample(&mon, "vnet_monitor_up", e->name, NULL, st != NULL);
            if (st) {
                nf_metrics(&nfs, e->name, st);
                json_object_put(st);
            }
        }
    }
    char *parts[4] = { vnet_buf_steal(&chains), vnet_buf_steal(&ports),
                       vnet_buf_steal(&mon), vnet_buf_steal(&nfs) };
    help(&b, "vnet_chain_running", "gauge", "1 if the chain's VNodes and rules are wanted");
    help(&b, "vnet_chain_mirrored", "gauge", "1 if the chain has a Monitoring VNet");
    help(&b, "vnet_chain_shadowed", "gauge", "1 if the chain has a Shadow VNet");
    help(&b, "vnet_swaps_total", "counter", "swaps and rollbacks of the chain");
    vnet_buf_puts(&b, parts[0]);
    help(&b, "vnet_vnode_port_packets_total", "counter",
         "packets OVS sent to (to_vnode) or received from (from_vnode) a VNode NIC");
    help(&b, "vnet_vnode_port_dropped_total", "counter", "packets dropped on that port");
    vnet_buf_puts(&b, parts[1]);
    help(&b, "vnet_monitor_up", "gauge", "1 if the monitoring agent answered this scrape");
    vnet_buf_puts(&b, parts[2]);
    help(&b, "vnet_nf_queue_packets", "gauge",
         "queue length an arrival found, latest analysis window");
    help(&b, "vnet_nf_latency_seconds", "gauge", "NF latency, latest analysis window");
    help(&b, "vnet_nf_arrivals_total", "counter", "packets captured entering the NF");
    help(&b, "vnet_nf_drops_total", "counter", "drops found by hop reconstruction");
    help(&b, "vnet_nf_match_ratio", "gauge", "departures matched to their arrival");
    help(&b, "vnet_capture_dropped_total", "counter", "copies the capture lost");
    vnet_buf_puts(&b, parts[3]);
    for (int i = 0; i < 4; i++) {
        free(parts[i]);
    }
    return vnet_buf_steal(&b);
}

void
metrics_run(struct metrics *m)
{
    for (int k = 0; k < 8; k++) {
        int fd = accept4(m->fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            return;
        }
        /* Wait briefly for the request, then answer whatever it was. */
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        char req[2048];
        if (poll(&pfd, 1, 100) == 1) {
            ssize_t n = recv(fd, req, sizeof req, MSG_DONTWAIT);
            (void) n;
        }
        char *body = metrics_render(m->d);
        char *resp = vnet_xasprintf("HTTP/1.0 200 OK\r\nContent-Type: text/plain; "
                                    "version=0.0.4; charset=utf-8\r\nContent-Length: "
                                    "%zu\r\nConnection: close\r\n\r\n%s", strlen(body),
                                    body);
        struct timeval tv = { 0, 200000 };
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (vnet_write_all(fd, resp, strlen(resp))) {
            VNLOG_WARN_RL(&rl, "a metrics client went away before its answer");
        }
        free(resp);
        free(body);
        close(fd);
    }
}

void
metrics_wait(struct metrics *m)
{
    poll_fd_wait(m->fd, POLLIN);
}
