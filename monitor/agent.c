/* vnet-monitor -- the agent inside a monitoring VNode.
 *
 *   vnet-monitor --chain NAME --control PATH --store DIR [--snaplen N] [--keep S]
 *                [--backend afpacket|pcap] --nf NAME=PPS[,qcap=N][,type=T]...
 *                --edge FROM:TO... --port SOURCE=NF:in|out...
 *
 * A capture thread reads every mirror port (TPACKET_V3 rings by default, or pcap
 * files with --backend pcap), writes each packet to the rolling store and feeds the
 * online analysis in timestamp order; the main thread serves JSON-RPC requests on
 * the control socket: "stats" (per-NF figures for 'vnetctl monitor show') and
 * "dump" (a window of the store in the offline trace format or, with
 * "comparison": true, the chain's entry and both sides' exits as ingress.pcap,
 * exit0.pcap and exit1.pcap for 'vnetctl shadow compare').  SIGTERM stops it. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/atomic-file.h"
#include "lib/error.h"
#include "lib/jsonrpc.h"
#include "lib/jsonv.h"
#include "lib/util.h"
#include "monitor/agent-topology.h"
#include "monitor/capture.h"
#include "monitor/online.h"
#include "monitor/store.h"

#define BATCH 256
#define RATE_SLOTS 16               /* seconds of per-port packet counts */

static volatile sig_atomic_t stopping;

struct port_state {
    struct capture *capture;
    size_t store_port;
    int nf;                         /* index in the topology, -1: comparison port */
    bool arrivals;
    bool eof;
    uint64_t per_second[RATE_SLOTS];
    uint64_t second[RATE_SLOTS];
};

struct agent {
    char *chain;
    struct agent_topology topo;
    struct store *store;
    struct online *online;
    struct port_state *ports;
    size_t n_ports;
    bool replay;
    uint64_t start_ns;
    pthread_mutex_t mutex;          /* protects rates and the online analysis */
};

static void
on_signal(int sig)
{
    (void) sig;
    stopping = 1;
}

static void
count(struct port_state *p, uint64_t ts_ns)
{
    uint64_t sec = ts_ns / 1000000000ull;
    size_t slot = sec % RATE_SLOTS;
    if (p->second[slot] != sec) {
        p->second[slot] = sec;
        p->per_second[slot] = 0;
    }
    p->per_second[slot]++;
}

/* Packets per second over the last 'n' complete seconds before 'now_ns'. */
static double
rate(const struct port_state *p, uint64_t now_ns, unsigned int n)
{
    uint64_t now = now_ns / 1000000000ull, total = 0;
    for (unsigned int k = 1; k <= n; k++) {
        size_t slot = (now - k) % RATE_SLOTS;
        if (p->second[slot] == now - k) {
            total += p->per_second[slot];
        }
    }
    return (double) total / n;
}

static void *
capture_main(void *a_)
{
    struct agent *a = a_;
    struct pollfd *pfds = vnet_xcalloc(a->n_ports, sizeof *pfds);
    struct capture_pkt pkts[BATCH];
    uint64_t last_rotate = 0;
    size_t live = a->n_ports;
    while (!stopping && live) {
        size_t n_fds = 0;
        for (size_t i = 0; i < a->n_ports; i++) {
            int fd = a->ports[i].eof ? -1 : capture_fd(a->ports[i].capture);
            if (fd >= 0) {
                pfds[n_fds++] = (struct pollfd) { .fd = fd, .events = POLLIN };
            }
        }
        if (n_fds && !a->replay) {
            poll(pfds, n_fds, 10);
        }
        /* Drain every ring.  A frame stamped before 'sweep' sat in a block the
         * kernel retired by 'sweep' + the block timeout at the latest, so once all
         * rings are drained the online analysis may take everything older than
         * 'sweep' minus its hold-back (which covers the block timeout). */
        uint64_t sweep = vnet_wall_ns();
        for (size_t i = 0; i < a->n_ports; i++) {
            struct port_state *p = &a->ports[i];
            for (int n = BATCH; n == BATCH && !p->eof && !stopping; ) {
                n = capture_recv(p->capture, pkts, BATCH);
                if (n == -ENODATA) {
                    p->eof = true;
                    live--;
                    break;
                }
                pthread_mutex_lock(&a->mutex);
                for (int k = 0; k < n; k++) {
                    store_write(a->store, p->store_port, pkts[k].ts_ns, pkts[k].data,
                                pkts[k].caplen, pkts[k].len);
                    count(p, pkts[k].ts_ns);
                    if (p->nf >= 0) {
                        online_packet(a->online, (size_t) p->nf, p->arrivals, &pkts[k]);
                    }
                }
                pthread_mutex_unlock(&a->mutex);
                if (a->replay) {
                    break;      /* replay: interleave the files batch by batch */
                }
            }
        }
        uint64_t now = vnet_wall_ns();
        if (now - last_rotate > 200000000ull) {
            store_rotate(a->store, now);
            pthread_mutex_lock(&a->mutex);
            online_advance(a->online, a->replay ? UINT64_MAX : sweep);
            pthread_mutex_unlock(&a->mutex);
            last_rotate = now;
        }
    }
    pthread_mutex_lock(&a->mutex);
    online_advance(a->online, UINT64_MAX);
    pthread_mutex_unlock(&a->mutex);
    store_rotate(a->store, vnet_wall_ns());
    free(pfds);
    return NULL;
}

/* ---- control requests --------------------------------------------------------- */

/* Receive drops of interface 'name' in this network namespace (/proc/net/dev is
 * per namespace): frames the mirror port's veth dropped before the capture ring
 * saw them.  0 if unknown. */
static uint64_t
if_rx_dropped(const char *name)
{
    FILE *f = fopen("/proc/net/dev", "r");
    if (!f) {
        return 0;
    }
    char line[512];
    uint64_t dropped = 0;
    size_t len = strlen(name);
    while (fgets(line, sizeof line, f)) {
        char *p = line + strspn(line, " ");
        if (!strncmp(p, name, len) && p[len] == ':') {
            unsigned long long v[4];
            if (sscanf(p + len + 1, "%llu %llu %llu %llu", &v[0], &v[1], &v[2],
                       &v[3]) == 4) {
                dropped = v[3];
            }
        }
    }
    fclose(f);
    return dropped;
}

/* Adds to each NF of 'nfs' what its capture lost: ring drops reported by the back
 * end and drops at the mirror port, in both directions. */
static void
add_capture_loss(struct agent *a, struct json_object *nfs)
{
    for (size_t i = 0; i < a->n_ports; i++) {
        struct port_state *p = &a->ports[i];
        struct json_object *n;
        if (p->nf < 0
            || !json_object_object_get_ex(nfs, a->topo.nfs[p->nf].name, &n)) {
            continue;
        }
        struct capture_stats st;
        capture_get_stats(p->capture, &st);
        uint64_t port_drops = a->replay ? 0 : if_rx_dropped(capture_source(p->capture));
        struct json_object *v;
        uint64_t ring = st.drops, port = port_drops;
        if (json_object_object_get_ex(n, "capture_drops", &v)) {
            ring += (uint64_t) json_object_get_int64(v);
        }
        if (json_object_object_get_ex(n, "mirror_port_drops", &v)) {
            port += (uint64_t) json_object_get_int64(v);
        }
        json_object_object_add(n, "capture_drops", json_object_new_int64((int64_t) ring));
        json_object_object_add(n, "mirror_port_drops",
                               json_object_new_int64((int64_t) port));
    }
}

static struct json_object *
do_stats(struct agent *a)
{
    uint64_t now = vnet_wall_ns();
    struct json_object *r = json_object_new_object();
    json_object_object_add(r, "chain", json_object_new_string(a->chain));
    json_object_object_add(r, "uptime_s", json_object_new_double(
                               (double) (now - a->start_ns) / 1e9));
    struct json_object *ports = json_object_new_array();
    pthread_mutex_lock(&a->mutex);
    for (size_t i = 0; i < a->n_ports; i++) {
        struct port_state *p = &a->ports[i];
        struct capture_stats st;
        capture_get_stats(p->capture, &st);
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "source",
                               json_object_new_string(capture_source(p->capture)));
        const struct agent_port *tp = &a->topo.ports[i];
        json_object_object_add(o, "nf", json_object_new_string(
                                   tp->special ? "-" : a->topo.nfs[p->nf].name));
        json_object_object_add(o, "direction", json_object_new_string(
                                   tp->special ? tp->special
                                   : p->arrivals ? "arrivals" : "departures"));
        json_object_object_add(o, "packets", json_object_new_int64((int64_t) st.packets));
        json_object_object_add(o, "capture_drops",
                               json_object_new_int64((int64_t) st.drops));
        json_object_object_add(o, "truncated",
                               json_object_new_int64((int64_t) st.truncated));
        json_object_object_add(o, "rate_pps", json_object_new_double(rate(p, now, 3)));
        json_object_array_add(ports, o);
    }
    json_object_object_add(r, "ports", ports);
    struct json_object *nfs = online_stats_to_json(a->online);
    add_capture_loss(a, nfs);
    json_object_object_add(r, "nfs", nfs);
    json_object_object_add(r, "timeline", online_timeline_to_json(a->online));
    json_object_object_add(r, "windows", json_object_new_int64(
                               (int64_t) online_windows(a->online)));
    json_object_object_add(r, "frames_before_start", json_object_new_int64(
                               (int64_t) online_frames_before_start(a->online)));
    pthread_mutex_unlock(&a->mutex);
    return r;
}

static struct vnet_error *
do_dump(struct agent *a, struct json_object *params, struct json_object **ret)
{
    struct jpath root = JPATH_ROOT;
    struct jpath pp = JPATH_KEY(&root, "params");
    const char *dir;
    double seconds = 5;
    bool comparison = false;
    struct vnet_error *error;
    if ((error = jv_get_string(params, &pp, "dir", true, &dir))
        || (error = jv_get_double(params, &pp, "seconds", false, 0.001, 3600,
                                  &seconds))
        || (error = jv_get_bool(params, &pp, "comparison", false, &comparison))) {
        return error;
    }
    if (dir[0] != '/') {
        return vnet_error_create(VNET_ERR_INVALID, "params.dir: expected an absolute "
                                 "path, got '%s'", dir);
    }
    int err = vnet_mkdir_p(dir, 0755);
    if (err) {
        return vnet_error_from_errno(err, "%s", dir);
    }
    uint64_t to = vnet_wall_ns(), from = to - (uint64_t) (seconds * 1e9);
    if (a->replay) {
        from = 0;
        to = UINT64_MAX;
    }
    struct json_object *files = json_object_new_object();
    for (size_t i = 0; i < a->n_ports; i++) {
        struct port_state *p = &a->ports[i];
        if ((p->nf < 0) != comparison) {
            continue;           /* a trace, or the comparison ports alone */
        }
        char *name = comparison
            ? vnet_xasprintf("%s.pcap", a->topo.ports[i].special)
            : vnet_xasprintf("%s.%s.pcap", a->topo.nfs[p->nf].name,
                             p->arrivals ? "in" : "out");
        char *path = vnet_xasprintf("%s/%s", dir, name);
        long n = store_dump(a->store, p->store_port, from, to, path);
        if (n < 0) {
            error = vnet_error_from_errno((int) n, "%s", path);
        } else {
            json_object_object_add(files, name, json_object_new_int64(n));
        }
        free(name);
        free(path);
        if (error) {
            json_object_put(files);
            return error;
        }
    }
    if (comparison) {
        if (!json_object_object_length(files)) {
            json_object_put(files);
            return vnet_error_create(VNET_ERR_NOT_FOUND, "this Monitoring VNet has no "
                                     "comparison ports (the chain has no shadow)");
        }
        struct json_object *r = json_object_new_object();
        json_object_object_add(r, "dir", json_object_new_string(dir));
        json_object_object_add(r, "seconds", json_object_new_double(seconds));
        json_object_object_add(r, "files", files);
        *ret = r;
        return NULL;
    }
    struct json_object *topo = agent_topology_to_json(&a->topo);
    char *topo_path = vnet_xasprintf("%s/topology.json", dir);
    const char *text = json_object_to_json_string_ext(topo, JSON_C_TO_STRING_PRETTY);
    err = vnet_atomic_write(topo_path, text, strlen(text), 0644);
    json_object_put(topo);
    if (err) {
        error = vnet_error_from_errno(err, "%s", topo_path);
        free(topo_path);
        json_object_put(files);
        return error;
    }
    free(topo_path);
    struct json_object *r = json_object_new_object();
    json_object_object_add(r, "dir", json_object_new_string(dir));
    json_object_object_add(r, "seconds", json_object_new_double(seconds));
    json_object_object_add(r, "files", files);
    *ret = r;
    return NULL;
}

static struct json_object *
handle(struct agent *a, struct json_object *msg)
{
    const char *method;
    struct json_object *params, *id;
    struct vnet_error *error = jsonrpc_parse_request(msg, &method, &params, &id);
    struct json_object *result = NULL;
    if (!error) {
        if (!strcmp(method, "stats")) {
            result = do_stats(a);
        } else if (!strcmp(method, "dump")) {
            error = do_dump(a, params, &result);
        } else {
            error = vnet_error_create(VNET_ERR_NOT_FOUND, "unknown method '%s' "
                                      "(stats, dump)", method);
        }
    }
    struct json_object *reply;
    if (error) {
        reply = jsonrpc_error(id, JSONRPC_DAEMON_ERROR, error->message,
                              vnet_error_to_json(error));
        vnet_error_destroy(error);
    } else {
        reply = jsonrpc_result(id, result);
    }
    return reply;
}

/* Serves one client until it hangs up (requests are short). */
static void
serve_client(struct agent *a, int fd)
{
    struct jsonrpc_rx rx;
    jsonrpc_rx_init(&rx, 64 * 1024);
    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        if (poll(&pfd, 1, 5000) <= 0 || stopping) {
            break;
        }
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) {
            break;
        }
        jsonrpc_rx_feed(&rx, buf, (size_t) n);
        struct json_object *msg;
        struct vnet_error *error;
        enum jsonrpc_rx_status st;
        while ((st = jsonrpc_rx_next(&rx, &msg, &error)) != JSONRPC_RX_AGAIN) {
            struct json_object *reply;
            if (st == JSONRPC_RX_MSG) {
                reply = handle(a, msg);
                json_object_put(msg);
            } else {
                reply = jsonrpc_error(NULL, JSONRPC_PARSE_ERROR, error->message, NULL);
                vnet_error_destroy(error);
            }
            size_t len;
            char *line = jsonrpc_serialize(reply, &len);
            json_object_put(reply);
            int werr = vnet_write_all(fd, line, len);
            free(line);
            if (werr || st == JSONRPC_RX_TOO_LONG) {
                goto out;
            }
        }
    }
out:
    jsonrpc_rx_destroy(&rx);
}

static int
listen_on(const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    if (!vnet_strlcpy(sun.sun_path, path, sizeof sun.sun_path)) {
        return -ENAMETOOLONG;
    }
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    mode_t old = umask(0177);
    int rc = fd < 0 || bind(fd, (struct sockaddr *) &sun, sizeof sun) < 0
             || listen(fd, 16) < 0 ? -errno : 0;
    umask(old);
    if (rc) {
        if (fd >= 0) {
            close(fd);
        }
        return rc;
    }
    return fd;
}

static void
usage(void)
{
    printf("usage: vnet-monitor --chain NAME --control PATH --store DIR [--snaplen N]\n"
           "                    [--keep SECONDS] [--backend afpacket|pcap]\n"
           "                    --nf NAME=PPS[,qcap=N][,type=T]... --edge FROM:TO...\n"
           "                    --port SOURCE=NF:in|out...\n");
}

static void
die(const char *msg)
{
    fprintf(stderr, "vnet-monitor: %s\n", msg);
    exit(EXIT_FAILURE);
}

int
main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        { "chain", required_argument, NULL, 'c' },
        { "control", required_argument, NULL, 'C' },
        { "store", required_argument, NULL, 's' },
        { "snaplen", required_argument, NULL, 'l' },
        { "keep", required_argument, NULL, 'k' },
        { "backend", required_argument, NULL, 'b' },
        { "nf", required_argument, NULL, 'n' },
        { "edge", required_argument, NULL, 'e' },
        { "port", required_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct agent a = { .chain = "chain" };
    const char *control = NULL, *store_dir = NULL, *backend = "afpacket";
    unsigned long long snaplen = 128, keep = 30;
    for (;;) {
        int c = getopt_long(argc, argv, "h", longopts, NULL);
        if (c == -1) {
            break;
        }
        char *error = NULL;
        switch (c) {
        case 'c': a.chain = optarg; break;
        case 'C': control = optarg; break;
        case 's': store_dir = optarg; break;
        case 'b': backend = optarg; break;
        case 'l':
            if (vnet_parse_uint(optarg, 64, 65535, &snaplen)) {
                die("--snaplen: expected 64..65535");
            }
            break;
        case 'k':
            if (vnet_parse_uint(optarg, 1, 3600, &keep)) {
                die("--keep: expected 1..3600 seconds");
            }
            break;
        case 'n': error = agent_topology_add_nf(&a.topo, optarg); break;
        case 'e': error = agent_topology_add_edge(&a.topo, optarg); break;
        case 'p': error = agent_topology_add_port(&a.topo, optarg); break;
        case 'h': usage(); return EXIT_SUCCESS;
        default: usage(); return EXIT_FAILURE;
        }
        if (error) {
            die(error);
        }
    }
    char *error = agent_topology_finish(&a.topo);
    if (error) {
        die(error);
    }
    if (!control || !store_dir) {
        die("--control and --store are required");
    }
    a.replay = !strcmp(backend, "pcap");
    /* Every analysis window allocates and frees its matcher's arrays: keep that
     * memory in the heap instead of returning it to the kernel and faulting it in
     * again (a quarter of the agent's CPU time at 200 kpps otherwise). */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    a.start_ns = vnet_wall_ns();
    pthread_mutex_init(&a.mutex, NULL);
    if (store_create(store_dir, (unsigned) keep, (uint32_t) snaplen, &a.store)) {
        die("cannot create the store directory");
    }
    char *oerr = online_create(&a.topo, NULL, &a.online);
    if (oerr) {
        die(oerr);
    }
    a.ports = vnet_xcalloc(a.topo.n_ports, sizeof *a.ports);
    for (size_t i = 0; i < a.topo.n_ports; i++) {
        const struct agent_port *tp = &a.topo.ports[i];
        struct capture_config cfg = {
            .source = tp->source, .tag = (uint32_t) i, .snaplen = (uint32_t) snaplen,
            .promiscuous = true,
        };
        char *cerr = NULL;
        if (capture_open(backend, &cfg, &a.ports[i].capture, &cerr)) {
            die(cerr);
        }
        a.ports[i].nf = tp->special ? -1 : agent_topology_find_nf(&a.topo, tp->nf);
        a.ports[i].arrivals = tp->arrivals;
        char *name = tp->special ? vnet_xstrdup(tp->special)
                                 : vnet_xasprintf("%s.%s", tp->nf,
                                                  tp->arrivals ? "in" : "out");
        a.ports[i].store_port = store_add_port(a.store, name);
        free(name);
        a.n_ports++;
    }
    int lfd = listen_on(control);
    if (lfd < 0) {
        die("cannot listen on the control socket");
    }

    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    pthread_t capture_thread;
    pthread_create(&capture_thread, NULL, capture_main, &a);
    while (!stopping) {
        struct pollfd pfd = { .fd = lfd, .events = POLLIN };
        if (poll(&pfd, 1, 200) == 1) {
            int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0) {
                serve_client(&a, fd);
                close(fd);
            }
        }
    }
    pthread_join(capture_thread, NULL);
    close(lfd);
    unlink(control);
    for (size_t i = 0; i < a.n_ports; i++) {
        capture_close(a.ports[i].capture);
    }
    free(a.ports);
    online_destroy(a.online);
    store_destroy(a.store);
    agent_topology_destroy(&a.topo);
    return EXIT_SUCCESS;
}
