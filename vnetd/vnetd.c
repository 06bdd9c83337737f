/* vnetd -- the vnet daemon: one event loop driving the control socket, the registry
 * and (in later modules) the OVS and libvirt adapters. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "openvswitch/poll-loop.h"
#include "openvswitch/util.h"
#include "openvswitch/vlog.h"
#include "lib/atomic-file.h"
#include "lib/crashpoint.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"
#include "vnet-config.h"
#include "vnetd/chain-plan.h"
#include "vnetd/chain-runtime.h"
#include "vnetd/control.h"
#include "vnetd/metrics.h"
#include "vnetd/registry.h"
#include "vnetd/state-file.h"
#include "vnetd/vnetd.h"

VNLOG_DEFINE_THIS_MODULE(vnetd);

struct options {
    const char *socket;
    const char *socket_group;
    bool read_only_for_all;
    unsigned int max_clients;
    unsigned int rate_limit;
    const char *state_dir;
    const char *log_file;
    const char *log_levels;
    const char *pidfile;
    bool detach;
    bool reset_state;
    bool no_substrate;
    const char *libvirt_uri;
    const char *ovs_db;
    const char *ovs_rundir;
    const char *datapath;
    const char *templates_dir;
    const char *vnode_init;
    const char *nf_path;
    const char *control_dir;
    unsigned int op_timeout_s;
    const char *metrics;
    struct chain_plan_cpu cpu;      /* production_shares 0: no CPU limits */
};

/* Signals only set a flag and poke the loop through a pipe. */
static volatile sig_atomic_t exit_signal;
static volatile sig_atomic_t hup_signal;
static int signal_pipe[2] = { -1, -1 };

static void
signal_handler(int sig)
{
    int saved = errno;
    if (sig == SIGHUP) {
        hup_signal = 1;
    } else {
        exit_signal = sig;
    }
    char c = 0;
    ssize_t r = write(signal_pipe[1], &c, 1);
    (void) r;
    errno = saved;
}

static void
signals_init(void)
{
    if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        fprintf(stderr, "vnetd: pipe: %s\n", strerror(errno));
        exit(EXIT_FAILURE);
    }
    /* Installed before OVS's fatal-signal module initialises: it then leaves them. */
    struct sigaction sa = { .sa_handler = signal_handler };
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void
signals_run(struct vnetd *d, const struct options *o)
{
    char buf[64];
    while (read(signal_pipe[0], buf, sizeof buf) > 0) {
        continue;
    }
    if (exit_signal) {
        VNLOG_INFO("caught signal %d, exiting", (int) exit_signal);
        d->exiting = true;
    }
    if (hup_signal) {
        hup_signal = 0;
        if (o->log_file) {
            int err = vnlog_set_file(o->log_file);
            VNLOG_INFO("reopened log file '%s'%s%s", o->log_file, err ? ": " : "",
                       err ? strerror(-err) : "");
        }
    }
}

static void
signals_wait(void)
{
    poll_fd_wait(signal_pipe[0], POLLIN);
}

static void
usage(void)
{
    printf("vnetd %s: the vnet daemon\n"
           "usage: vnetd [OPTIONS]\n"
           "  --socket PATH          control socket (default %s)\n"
           "  --socket-group GROUP   group allowed to change state through the socket\n"
           "  --read-only-for-all    let every local user call read-only methods\n"
           "  --max-clients N        control connections at once (default 1024)\n"
           "  --rate-limit N         requests per second per connection, bursts of 2N;\n"
           "                         more get an error at once (default 1000; 0: off)\n"
           "  --state-dir DIR        where state.json lives (default %s)\n"
           "  --reset-state          start empty if no state file is readable\n"
           "                         (unreadable files are kept aside, never deleted)\n"
           "  --log-file PATH        log here instead of stderr (reopened on SIGHUP)\n"
           "  --log-level SPEC       e.g. \"info\" or \"control:dbg,ANY:warn\"\n"
           "  --pidfile PATH         write the daemon's pid here\n"
           "  --detach               run in the background once the socket is ready\n"
           "substrate:\n"
           "  --libvirt-uri URI      libvirt connection (default %s)\n"
           "  --ovs-db REMOTE        OVSDB remote (default unix:%s/db.sock)\n"
           "  --ovs-rundir DIR       where bridges' OpenFlow sockets are (default %s)\n"
           "  --datapath TYPE        auto, netdev or system (default auto: netdev when\n"
           "                         the openvswitch kernel module is absent)\n"
           "  --templates-dir DIR    domain XML templates (default: installed ones)\n"
           "  --vnode-init PATH      the VNodes' init program\n"
           "  --nf-path DIRS         colon-separated directories searched for NF programs\n"
           "  --nf-control-dir DIR   NF control sockets (default %s/nf)\n"
           "  --op-timeout SECS      give up creating/deleting a chain after SECS (120)\n"
           "  --cpu-shares N         CPU shares of the VNodes serving production\n"
           "                         (default 1024; 0: vnetd manages no CPU limits)\n"
           "  --shadow-cpu-shares N  CPU shares of each shadow VNode (default: the\n"
           "                         same as --cpu-shares; fewer slow the shadow down\n"
           "                         on a busy host, which 'shadow compare' then\n"
           "                         blames on the fix)\n"
           "  --shadow-cpu-quota PCT cap each shadow VNode at PCT %% of each CPU its\n"
           "                         template gives it (default 100; 0: no cap)\n"
           "  --monitor-cpu-shares N, --monitor-cpu-quota PCT\n"
           "                         the same for the monitoring VNode, which has one\n"
           "                         CPU (defaults: a quarter of --cpu-shares, 50)\n"
           "  --cpu-period USECS     the period of those caps (default 100000)\n"
           "  --metrics ADDR:PORT    serve Prometheus metrics there (loopback only;\n"
           "                         off by default), e.g. 127.0.0.1:9464\n"
           "  --no-substrate         run without OVS and libvirt (registry only)\n"
           "  --version, --help\n",
           VNET_VERSION, VNET_DEFAULT_SOCKET, VNET_DEFAULT_STATE_DIR,
           VNET_DEFAULT_LIBVIRT_URI, VNET_DEFAULT_OVS_RUNDIR, VNET_DEFAULT_OVS_RUNDIR,
           VNET_DEFAULT_RUN_DIR);
}

/* Returns the value of option '--name' as an integer in [min, max], or exits. */
static unsigned int
uint_option(const char *name, const char *arg, unsigned long long min,
            unsigned long long max)
{
    unsigned long long v;
    if (vnet_parse_uint(arg, min, max, &v)) {
        fprintf(stderr, "vnetd: --%s: expected %llu..%llu, got '%s'\n", name, min, max,
                arg);
        exit(EXIT_FAILURE);
    }
    return (unsigned int) v;
}

/* Fills in the default shares of shadow VNodes (production's: a shadow given less
 * runs slower than its fix would on a busy host, and the comparison blames the
 * fix) and of the monitoring VNode (a quarter of production's), and checks that
 * each cap is at least the kernel's 1 ms. */
static void
check_cpu_options(struct chain_plan_cpu *cpu)
{
    if (cpu->production_shares == 1) {
        fprintf(stderr, "vnetd: --cpu-shares: expected 0 (no limits) or 2..262144\n");
        exit(EXIT_FAILURE);
    }
    unsigned int quarter = VNET_MAX(cpu->production_shares / 4, 2u);
    cpu->shadow_shares = cpu->shadow_shares ? cpu->shadow_shares
                                            : VNET_MAX(cpu->production_shares, 2u);
    cpu->monitor_shares = cpu->monitor_shares ? cpu->monitor_shares : quarter;
    static const char *const names[] = { "shadow-cpu-quota", "monitor-cpu-quota" };
    unsigned int pcts[] = { cpu->shadow_quota_pct, cpu->monitor_quota_pct };
    for (size_t i = 0; i < 2; i++) {
        if (pcts[i] && (unsigned long long) cpu->period_us * pcts[i] / 100 < 1000) {
            fprintf(stderr, "vnetd: --%s: %u %% of a %u us period is below the "
                    "kernel's minimum quota of 1000 us\n", names[i], pcts[i],
                    cpu->period_us);
            exit(EXIT_FAILURE);
        }
    }
}

static void
parse_options(int argc, char *argv[], struct options *o)
{
    enum { OPT_SOCKET = 256, OPT_GROUP, OPT_RO_ALL, OPT_STATE, OPT_RESET, OPT_LOGFILE,
           OPT_LOGLEVEL, OPT_PIDFILE, OPT_DETACH, OPT_VERSION, OPT_NO_SUBSTRATE,
           OPT_LIBVIRT, OPT_OVSDB, OPT_OVSRUN, OPT_DATAPATH, OPT_TEMPLATES,
           OPT_VNODE_INIT, OPT_NF_PATH, OPT_CONTROL_DIR, OPT_OP_TIMEOUT, OPT_METRICS,
           OPT_MAX_CLIENTS, OPT_RATE_LIMIT,
           OPT_CPU_SHARES, OPT_SHADOW_SHARES, OPT_SHADOW_QUOTA, OPT_MONITOR_SHARES,
           OPT_MONITOR_QUOTA, OPT_CPU_PERIOD };
    static const struct option longopts[] = {
        { "socket", required_argument, NULL, OPT_SOCKET },
        { "socket-group", required_argument, NULL, OPT_GROUP },
        { "read-only-for-all", no_argument, NULL, OPT_RO_ALL },
        { "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
        { "rate-limit", required_argument, NULL, OPT_RATE_LIMIT },
        { "state-dir", required_argument, NULL, OPT_STATE },
        { "reset-state", no_argument, NULL, OPT_RESET },
        { "log-file", required_argument, NULL, OPT_LOGFILE },
        { "log-level", required_argument, NULL, OPT_LOGLEVEL },
        { "pidfile", required_argument, NULL, OPT_PIDFILE },
        { "detach", no_argument, NULL, OPT_DETACH },
        { "version", no_argument, NULL, OPT_VERSION },
        { "no-substrate", no_argument, NULL, OPT_NO_SUBSTRATE },
        { "libvirt-uri", required_argument, NULL, OPT_LIBVIRT },
        { "ovs-db", required_argument, NULL, OPT_OVSDB },
        { "ovs-rundir", required_argument, NULL, OPT_OVSRUN },
        { "datapath", required_argument, NULL, OPT_DATAPATH },
        { "templates-dir", required_argument, NULL, OPT_TEMPLATES },
        { "vnode-init", required_argument, NULL, OPT_VNODE_INIT },
        { "nf-path", required_argument, NULL, OPT_NF_PATH },
        { "nf-control-dir", required_argument, NULL, OPT_CONTROL_DIR },
        { "op-timeout", required_argument, NULL, OPT_OP_TIMEOUT },
        { "metrics", required_argument, NULL, OPT_METRICS },
        { "cpu-shares", required_argument, NULL, OPT_CPU_SHARES },
        { "shadow-cpu-shares", required_argument, NULL, OPT_SHADOW_SHARES },
        { "shadow-cpu-quota", required_argument, NULL, OPT_SHADOW_QUOTA },
        { "monitor-cpu-shares", required_argument, NULL, OPT_MONITOR_SHARES },
        { "monitor-cpu-quota", required_argument, NULL, OPT_MONITOR_QUOTA },
        { "cpu-period", required_argument, NULL, OPT_CPU_PERIOD },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    *o = (struct options) {
        .socket = VNET_DEFAULT_SOCKET,
        .state_dir = VNET_DEFAULT_STATE_DIR,
        .libvirt_uri = VNET_DEFAULT_LIBVIRT_URI,
        .ovs_rundir = VNET_DEFAULT_OVS_RUNDIR,
        .datapath = "auto",
        .control_dir = VNET_DEFAULT_RUN_DIR "/nf",
        .op_timeout_s = 120,
        .cpu = { .production_shares = 1024, .shadow_quota_pct = 100,
                 .monitor_quota_pct = 50, .period_us = 100000 },
        .max_clients = 1024,
        .rate_limit = 1000,
    };
    unsigned long long secs, n;
    for (;;) {
        int c = getopt_long(argc, argv, "h", longopts, NULL);
        if (c == -1) {
            break;
        }
        switch (c) {
        case OPT_SOCKET: o->socket = optarg; break;
        case OPT_METRICS: o->metrics = optarg; break;
        case OPT_CPU_SHARES:
            o->cpu.production_shares = uint_option("cpu-shares", optarg, 0, 262144);
            break;
        case OPT_SHADOW_SHARES:
            o->cpu.shadow_shares = uint_option("shadow-cpu-shares", optarg, 2, 262144);
            break;
        case OPT_SHADOW_QUOTA:
            o->cpu.shadow_quota_pct = uint_option("shadow-cpu-quota", optarg, 0, 6400);
            break;
        case OPT_MONITOR_SHARES:
            o->cpu.monitor_shares = uint_option("monitor-cpu-shares", optarg, 2,
                                                262144);
            break;
        case OPT_MONITOR_QUOTA:
            o->cpu.monitor_quota_pct = uint_option("monitor-cpu-quota", optarg, 0,
                                                   6400);
            break;
        case OPT_CPU_PERIOD:
            o->cpu.period_us = uint_option("cpu-period", optarg, 1000, 1000000);
            break;
        case OPT_GROUP: o->socket_group = optarg; break;
        case OPT_RO_ALL: o->read_only_for_all = true; break;
        case OPT_MAX_CLIENTS:
            if (vnet_parse_uint(optarg, 1, 65536, &n)) {
                fprintf(stderr, "vnetd: --max-clients: expected 1..65536, got '%s'\n",
                        optarg);
                exit(EXIT_FAILURE);
            }
            o->max_clients = (unsigned int) n;
            break;
        case OPT_RATE_LIMIT:
            if (vnet_parse_uint(optarg, 0, 1000000, &n)) {
                fprintf(stderr, "vnetd: --rate-limit: expected requests per second "
                        "0..1000000, got '%s'\n", optarg);
                exit(EXIT_FAILURE);
            }
            o->rate_limit = (unsigned int) n;
            break;
        case OPT_STATE: o->state_dir = optarg; break;
        case OPT_RESET: o->reset_state = true; break;
        case OPT_LOGFILE: o->log_file = optarg; break;
        case OPT_LOGLEVEL: o->log_levels = optarg; break;
        case OPT_PIDFILE: o->pidfile = optarg; break;
        case OPT_DETACH: o->detach = true; break;
        case OPT_VERSION: printf("vnetd %s\n", VNET_VERSION); exit(EXIT_SUCCESS);
        case OPT_NO_SUBSTRATE: o->no_substrate = true; break;
        case OPT_LIBVIRT: o->libvirt_uri = optarg; break;
        case OPT_OVSDB: o->ovs_db = optarg; break;
        case OPT_OVSRUN: o->ovs_rundir = optarg; break;
        case OPT_DATAPATH:
            if (strcmp(optarg, "auto") && strcmp(optarg, "netdev")
                && strcmp(optarg, "system")) {
                fprintf(stderr, "vnetd: --datapath: expected auto, netdev or system, "
                        "got '%s'\n", optarg);
                exit(EXIT_FAILURE);
            }
            o->datapath = optarg;
            break;
        case OPT_TEMPLATES: o->templates_dir = optarg; break;
        case OPT_VNODE_INIT: o->vnode_init = optarg; break;
        case OPT_NF_PATH: o->nf_path = optarg; break;
        case OPT_CONTROL_DIR: o->control_dir = optarg; break;
        case OPT_OP_TIMEOUT:
            if (vnet_parse_uint(optarg, 1, 3600, &secs)) {
                fprintf(stderr, "vnetd: --op-timeout: expected seconds 1..3600, got "
                        "'%s'\n", optarg);
                exit(EXIT_FAILURE);
            }
            o->op_timeout_s = (unsigned int) secs;
            break;
        case 'h': usage(); exit(EXIT_SUCCESS);
        default:
            fprintf(stderr, "vnetd: try 'vnetd --help'\n");
            exit(EXIT_FAILURE);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vnetd: unexpected argument '%s'; try 'vnetd --help'\n",
                argv[optind]);
        exit(EXIT_FAILURE);
    }
    check_cpu_options(&o->cpu);
}

/* Forks; the parent waits until the child reports readiness (or failure) through a
 * pipe and exits with the child's verdict.  Returns the write end in the child. */
static int
detach(void)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        fprintf(stderr, "vnetd: pipe: %s\n", strerror(errno));
        exit(EXIT_FAILURE);
    }
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "vnetd: fork: %s\n", strerror(errno));
        exit(EXIT_FAILURE);
    }
    if (pid > 0) {
        close(fds[1]);
        char c;
        ssize_t n;
        do {
            n = read(fds[0], &c, 1);
        } while (n < 0 && errno == EINTR);
        exit(n == 1 && c == 'R' ? EXIT_SUCCESS : EXIT_FAILURE);
    }
    close(fds[0]);
    setsid();
    return fds[1];
}

static void
detach_finish(int ready_fd, const struct options *o)
{
    if (ready_fd < 0) {
        return;
    }
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        if (o->log_file) {
            dup2(null, STDERR_FILENO);
        }
        close(null);
    }
    ssize_t r = write(ready_fd, "R", 1);
    (void) r;
    close(ready_fd);
}

/* Returns the directory of the running executable (caller frees). */
static char *
exe_dir(void)
{
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) {
        return vnet_xstrdup(".");
    }
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (slash) {
        *slash = '\0';
    }
    return vnet_xstrdup(buf);
}

/* Gives this vnetd its owner id the first time it starts with a given state. */
static void
ensure_instance_id(struct vnetd *d)
{
    if (d->registry.instance) {
        return;
    }
    uint8_t raw[8];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, raw, sizeof raw) != (ssize_t) sizeof raw) {
        uint64_t t = vnet_wall_ns() ^ (uint64_t) getpid() << 32;
        memcpy(raw, &t, sizeof raw);
    }
    if (fd >= 0) {
        close(fd);
    }
    struct json_object *before = registry_to_json(&d->registry);
    d->registry.instance = vnet_xasprintf("%02x%02x%02x%02x%02x%02x%02x%02x", raw[0],
                                          raw[1], raw[2], raw[3], raw[4], raw[5], raw[6],
                                          raw[7]);
    struct vnet_error *error = vnetd_commit(d, before);
    if (error) {
        fprintf(stderr, "vnetd: %s\n", error->message);
        exit(EXIT_FAILURE);
    }
    VNLOG_INFO("this vnetd's owner id is %s", d->registry.instance);
}

static struct chain_runtime *
start_runtime(struct vnetd *d, const struct options *o)
{
    char *dir = exe_dir();
    char *init_path = o->vnode_init ? vnet_xstrdup(o->vnode_init)
                                    : vnet_xasprintf("%s/vnet-vnode-init", dir);
    if (!o->vnode_init && access(init_path, X_OK)) {
        free(init_path);
        init_path = vnet_xstrdup(VNET_LIBEXECDIR "/vnet-vnode-init");
    }
    char *nf_path = o->nf_path ? vnet_xstrdup(o->nf_path)
                               : vnet_xasprintf("%s:%s/../examples:%s/../monitor:%s",
                                                dir, dir, dir, VNET_BINDIR);
    char *ovs_db = o->ovs_db ? vnet_xstrdup(o->ovs_db)
                             : vnet_xasprintf("unix:%s/db.sock", o->ovs_rundir);
    const char *templates = o->templates_dir;
    if (!templates) {
        templates = access(VNET_DATADIR "/templates/domains/lxc.xml", R_OK)
                    ? VNET_SOURCE_TEMPLATES : VNET_DATADIR "/templates";
    }
    vnet_mkdir_p(o->control_dir, 0755);
    char *store_dir = vnet_xasprintf("%s/monitor", o->state_dir);
    struct chain_runtime_config cfg = {
        .libvirt_uri = o->libvirt_uri,
        .ovs_db = ovs_db,
        .ovs_rundir = o->ovs_rundir,
        .datapath = o->datapath,
        .templates_dir = templates,
        .vnode_init = init_path,
        .nf_path = nf_path,
        .control_dir = o->control_dir,
        .store_dir = store_dir,
        .op_timeout_s = o->op_timeout_s,
        .cpu = o->cpu.production_shares ? &o->cpu : NULL,
    };
    struct chain_runtime *rt = chain_runtime_create(d, &cfg);
    free(dir);
    free(init_path);
    free(nf_path);
    free(ovs_db);
    free(store_dir);
    return rt;
}

static void
write_pidfile(const char *path)
{
    char *text = vnet_xasprintf("%d\n", (int) getpid());
    int err = vnet_atomic_write(path, text, strlen(text), 0644);
    if (err) {
        VNLOG_WARN("cannot write pidfile '%s': %s", path, strerror(-err));
    }
    free(text);
}

int
main(int argc, char *argv[])
{
    struct options o;
    parse_options(argc, argv, &o);
    signals_init();
    crashpoint_init();
    /* libopenvswitch's own modules log on the console only when something is wrong. */
    vlog_set_levels(NULL, VLF_CONSOLE, VLL_WARN);
    vlog_set_levels(NULL, VLF_SYSLOG, VLL_OFF);

    if (o.log_levels) {
        char *msg = vnlog_set_levels(o.log_levels);
        if (msg) {
            fprintf(stderr, "vnetd: --log-level: %s\n", msg);
            return EXIT_FAILURE;
        }
    }
    if (o.log_file) {
        int err = vnlog_set_file(o.log_file);
        if (err) {
            fprintf(stderr, "vnetd: --log-file %s: %s\n", o.log_file, strerror(-err));
            return EXIT_FAILURE;
        }
    }

    struct control_options copts;
    control_options_init(&copts);
    copts.path = o.socket;
    copts.max_message = 4 * 1024 * 1024;
    copts.read_only_for_all = o.read_only_for_all;
    copts.max_clients = o.max_clients;
    copts.requests_per_sec = o.rate_limit;
    if (o.read_only_for_all) {
        copts.mode = 0666;
    }
    if (o.socket_group) {
        struct group *gr = getgrnam(o.socket_group);
        if (!gr) {
            fprintf(stderr, "vnetd: --socket-group: no group named '%s'\n",
                    o.socket_group);
            return EXIT_FAILURE;
        }
        copts.group = gr->gr_gid;
    }

    int ready_fd = o.detach ? detach() : -1;

    struct vnetd d = { .start_ns = vnet_mono_ns(), .socket_path = o.socket };
    registry_init(&d.registry);

    struct json_object *registry_json;
    struct vnet_error *error = state_file_open(o.state_dir, o.reset_state, &d.state,
                                               &registry_json, &d.notices);
    if (!error) {
        error = registry_from_json(&d.registry, registry_json);
        json_object_put(registry_json);
        if (error) {
            error = vnet_error_wrap(error, "%s", state_file_path(d.state));
        }
    }
    if (error) {
        VNLOG_ERR("%s", error->message);
        fprintf(stderr, "vnetd: %s\n", error->message);
        return EXIT_FAILURE;
    }

    char *sockdir = vnet_xstrdup(o.socket);
    char *slash = strrchr(sockdir, '/');
    if (slash && slash != sockdir) {
        *slash = '\0';
        vnet_mkdir_p(sockdir, 0755);
    }
    free(sockdir);
    int err = control_server_open(&copts, &d.control);
    if (err) {
        fprintf(stderr, "vnetd: cannot listen on %s: %s%s\n", o.socket, strerror(-err),
                err == -EADDRINUSE ? " (another vnetd is running)"
                : err == -EEXIST ? " (and is not a socket; vnetd leaves it alone)" : "");
        return EXIT_FAILURE;
    }
    ensure_instance_id(&d);
    if (!o.no_substrate) {
        d.runtime = start_runtime(&d, &o);
    }
    builtin_cmds_register(&d);
    chain_cmds_register(&d);
    shadow_cmds_register(&d);
    struct metrics *metrics = NULL;
    if (o.metrics) {
        struct vnet_error *merr = metrics_open(&d, o.metrics, &metrics);
        if (merr) {
            fprintf(stderr, "vnetd: %s\n", merr->message);
            vnet_error_destroy(merr);
            exit(EXIT_FAILURE);
        }
    }
    if (o.pidfile) {
        write_pidfile(o.pidfile);
    }
    VNLOG_INFO("vnetd %s ready: %zu chains, state generation %llu", VNET_VERSION,
               d.registry.n_chains,
               (unsigned long long) state_file_generation(d.state));
    detach_finish(ready_fd, &o);

    while (!d.exiting) {
        signals_run(&d, &o);
        control_server_run(d.control);
        if (d.runtime) {
            chain_runtime_run(d.runtime);
        }
        if (metrics) {
            metrics_run(metrics);
        }
        if (d.exiting) {
            break;
        }
        signals_wait();
        control_server_wait(d.control);
        if (d.runtime) {
            chain_runtime_wait(d.runtime);
        }
        if (metrics) {
            metrics_wait(metrics);
        }
        poll_block();
    }

    metrics_close(metrics);
    chain_runtime_destroy(d.runtime);
    control_server_close(d.control);
    registry_destroy(&d.registry);
    state_file_close(d.state);
    json_object_put(d.notices);
    if (o.pidfile) {
        unlink(o.pidfile);
    }
    VNLOG_INFO("stopped");
    return EXIT_SUCCESS;
}
