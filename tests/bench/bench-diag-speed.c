/* bench-diag-speed -- how fast offline diagnosis turns pcaps into hop records and
 * blame, and how much memory it needs per hop.
 *
 *   bench-diag-speed [--packets N] [--dir DIR] [--keep]
 *
 * Simulates a 4-NF chain (the "shaper" reference topology: fw -> nat (SNAT) ->
 * shaper -> vpn, scenario S7's NAT pauses) carrying N packets (default 10^6, so
 * N hops per NF), writes its 8 captures, then measures, each in a fresh child
 * process so that peak RSS (getrusage) is the measured step's own:
 *   read  the baseline: every capture read with libpcap (pcap_next_ex), nothing
 *         else;
 *   load  offline_load(): pcaps -> matched hop records (struct diag_trace);
 *   diag  offline_load() + microscope_diagnose() with the default configuration
 *         (victims sampled at 10^4/s per NF), each timed;
 *   all   the same diagnosing every victim (victims_per_s = 0).
 * Figures: hop records per second (wall clock, one thread) for each step and end
 * to end, the same as a ratio to the baseline read, and peak RSS per hop.  It
 * prints figures; it asserts nothing. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "diag/microscope.h"
#include "diag/offline.h"
#include "diag/trace.h"
#include "lib/error.h"
#include "lib/util.h"
#include "tests/sim/sim-scenario.h"
#include "tests/sim/sim.h"

#define NF_NAMES "fw", "nat", "shaper", "vpn"
#define USAGE "usage: bench-diag-speed [--packets N] [--dir DIR] [--keep]\n"

/* ---- Children: one measured step each; results on stdout as "key value". ---- */

static int
child_read(const char *dir)
{
    static const char *const nfs[] = { NF_NAMES };
    uint64_t frames = 0, bytes = 0, t0 = vnet_mono_ns();
    for (size_t i = 0; i < VNET_ARRAY_SIZE(nfs); i++) {
        for (int out = 0; out < 2; out++) {
            char *path = vnet_xasprintf("%s/%s.%s.pcap", dir, nfs[i],
                                        out ? "out" : "in");
            char err[PCAP_ERRBUF_SIZE];
            pcap_t *p = pcap_open_offline_with_tstamp_precision(
                path, PCAP_TSTAMP_PRECISION_NANO, err);
            free(path);
            if (!p) {
                fprintf(stderr, "bench-diag-speed: %s\n", err);
                return 2;
            }
            struct pcap_pkthdr *h;
            const u_char *data;
            while (pcap_next_ex(p, &h, &data) == 1) {
                frames++;
                bytes += h->caplen + data[h->caplen - 1];
            }
            pcap_close(p);
        }
    }
    printf("read_ns %" PRIu64 "\nframes %" PRIu64 "\nchecksum %" PRIu64 "\n",
           vnet_mono_ns() - t0, frames, bytes);
    return 0;
}

static int
child_diag(const char *dir, bool diag, bool all)
{
    struct diag_trace *t = NULL;
    struct diag_report *rep = NULL;
    uint64_t t0 = vnet_mono_ns();
    struct vnet_error *e = offline_load(dir, &t);
    uint64_t t1 = vnet_mono_ns();
    if (!e && diag) {
        struct microscope_config mc;
        microscope_config_init(&mc);
        if (all) {
            mc.victims_per_s = 0;
        }
        e = microscope_diagnose(t, &mc, &rep);
    }
    uint64_t t2 = vnet_mono_ns();
    if (e) {
        fprintf(stderr, "bench-diag-speed: %s\n", e->message);
        vnet_error_destroy(e);
        diag_trace_destroy(t);
        return 2;
    }
    printf("load_ns %" PRIu64 "\nhops %zu\npkts %zu\n", t1 - t0, t->n_hops, t->n_pkts);
    if (diag) {
        printf("diag_ns %" PRIu64 "\nvictims %zu\n", t2 - t1,
               diag_report_n_victims(rep));
    }
    diag_report_destroy(rep);
    diag_trace_destroy(t);
    return 0;
}

/* ---- The parent. ---- */

struct step {
    const char *mode;
    double read_ns, load_ns, diag_ns, frames, hops, victims;
    long maxrss_kb;
    double cpu_s;
};

static double
field(const char *text, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = text; p && *p;) {
        if (!strncmp(p, key, n) && p[n] == ' ') {
            return strtod(p + n + 1, NULL);
        }
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return 0;
}

/* Runs this program as '--child MODE DIR' and collects its output and usage. */
static int
measure(const char *dir, struct step *s)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC)) {
        return -errno;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        return -errno;
    }
    if (!pid) {
        if (dup2(fds[1], STDOUT_FILENO) < 0) {
            _exit(127);
        }
        execl("/proc/self/exe", "bench-diag-speed", "--child", s->mode, dir,
              (char *) NULL);
        _exit(127);
    }
    close(fds[1]);
    char buf[4096];
    size_t len = 0;
    ssize_t n;
    while ((n = read(fds[0], buf + len, sizeof buf - 1 - len)) > 0) {
        len += (size_t) n;
    }
    close(fds[0]);
    buf[len] = '\0';
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) {
        return -errno;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        fprintf(stderr, "bench-diag-speed: step '%s' failed (status %d)\n", s->mode,
                status);
        return -EIO;
    }
    s->read_ns = field(buf, "read_ns");
    s->load_ns = field(buf, "load_ns");
    s->diag_ns = field(buf, "diag_ns");
    s->frames = field(buf, "frames");
    s->hops = field(buf, "hops");
    s->victims = field(buf, "victims");
    s->maxrss_kb = ru.ru_maxrss;
    s->cpu_s = (double) ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
               + (double) ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    return 0;
}

static struct vnet_error *
generate(const char *dir, unsigned long long packets, size_t *ret_pkts)
{
    struct sim_config *cfg = vnet_xmalloc(sizeof *cfg);
    /* 0.6 Mpps offered: N packets take N / 0.6 us. */
    uint64_t duration = (uint64_t) ((double) packets / 0.6e6 * 1e9);
    struct sim *sim = NULL;
    struct vnet_error *e = sim_scenario_config("S7", 1, 1, duration, NULL, cfg);
    if (!e) {
        e = sim_create(cfg, &sim);
    }
    if (!e) {
        struct sim_result *r = sim_run(sim, sim_all_faults(sim));
        e = sim_write_offline(r, dir);
        *ret_pkts = sim->n_pkts;
        sim_result_destroy(r);
    }
    sim_destroy(sim);
    free(cfg);
    return e;
}

static void
remove_dir(const char *dir)
{
    static const char *const nfs[] = { NF_NAMES };
    for (size_t i = 0; i < VNET_ARRAY_SIZE(nfs); i++) {
        for (int out = 0; out < 2; out++) {
            char *p = vnet_xasprintf("%s/%s.%s.pcap", dir, nfs[i], out ? "out" : "in");
            unlink(p);
            free(p);
        }
    }
    char *p = vnet_xasprintf("%s/topology.json", dir);
    unlink(p);
    free(p);
    rmdir(dir);
}

static void
report(const struct step *read, const struct step *load, const struct step *diag,
       const struct step *all)
{
    double hops = load->hops;
    double read_s = read->read_ns / 1e9;
    printf("captures: %.0f frames in 8 pcaps; trace: %.0f hop records\n",
           read->frames, hops);
    printf("%-34s %9s %12s %10s %9s %9s\n", "step", "time", "hops/s", "vs read",
           "peak RSS", "B/hop");
    printf("%-34s %8.3fs %12.3g %10s %8.1fM %9.1f\n", "baseline: libpcap read only",
           read_s, hops / read_s, "1.00", read->maxrss_kb / 1024.0,
           read->maxrss_kb * 1024.0 / hops);
    struct {
        const char *label;
        double s;
        const struct step *rss;
    } rows[] = {
        { "offline_load (match)", load->load_ns / 1e9, load },
        { "microscope_diagnose (default)", diag->diag_ns / 1e9, NULL },
        { "end to end (load + diagnose)", (diag->load_ns + diag->diag_ns) / 1e9, diag },
        { "microscope_diagnose (all victims)", all->diag_ns / 1e9, NULL },
        { "end to end, all victims", (all->load_ns + all->diag_ns) / 1e9, all },
    };
    for (size_t i = 0; i < VNET_ARRAY_SIZE(rows); i++) {
        printf("%-34s %8.3fs %12.3g %10.2f", rows[i].label, rows[i].s, hops / rows[i].s,
               read_s / rows[i].s);
        if (rows[i].rss) {
            printf(" %8.1fM %9.1f", rows[i].rss->maxrss_kb / 1024.0,
                   rows[i].rss->maxrss_kb * 1024.0 / hops);
        }
        printf("\n");
    }
    printf("victims diagnosed: %.0f (default sampling), %.0f (all)\n", diag->victims,
           all->victims);
    printf("peak RSS above the baseline read: %.1f B/hop (load), %.1f B/hop (load + "
           "diagnose), %.1f B/hop (all victims)\n",
           (load->maxrss_kb - read->maxrss_kb) * 1024.0 / hops,
           (diag->maxrss_kb - read->maxrss_kb) * 1024.0 / hops,
           (all->maxrss_kb - read->maxrss_kb) * 1024.0 / hops);
    printf("goals: >= 5e6 hops/s end to end on one core, <= 100 B per hop\n");
}

int
main(int argc, char *argv[])
{
    if (argc == 4 && !strcmp(argv[1], "--child")) {
        const char *mode = argv[2], *dir = argv[3];
        return !strcmp(mode, "read") ? child_read(dir)
               : !strcmp(mode, "load") ? child_diag(dir, false, false)
               : !strcmp(mode, "diag") ? child_diag(dir, true, false)
               : !strcmp(mode, "all") ? child_diag(dir, true, true) : 1;
    }
    static const struct option options[] = {
        { "packets", required_argument, NULL, 'n' },
        { "dir", required_argument, NULL, 'd' },
        { "keep", no_argument, NULL, 'k' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    unsigned long long packets = 1000000;
    const char *dir = "/tmp/bench-diag-speed";
    bool keep = false;
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (vnet_parse_uint(optarg, 1000, 100000000, &packets)) {
                fprintf(stderr, "bench-diag-speed: --packets: expected 1000..1e8, got "
                        "'%s'\n", optarg);
                return 1;
            }
            break;
        case 'd':
            dir = optarg;
            break;
        case 'k':
            keep = true;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return 0;
        default:
            fputs(USAGE, stderr);
            return 1;
        }
    }
    size_t n_pkts = 0;
    uint64_t t0 = vnet_mono_ns();
    struct vnet_error *e = generate(dir, packets, &n_pkts);
    if (e) {
        fprintf(stderr, "bench-diag-speed: %s\n", e->message);
        vnet_error_destroy(e);
        return 2;
    }
    printf("bench-diag-speed: 4-NF chain fw -> nat -> shaper -> vpn, %zu packets per "
           "NF, simulated and written in %.1f s to %s\n", n_pkts,
           (double) (vnet_mono_ns() - t0) / 1e9, dir);
    struct step read = { .mode = "read" }, load = { .mode = "load" };
    struct step diag = { .mode = "diag" }, all = { .mode = "all" };
    int err = 0;
    struct step *steps[] = { &read, &load, &diag, &all };
    for (size_t i = 0; i < VNET_ARRAY_SIZE(steps) && !err; i++) {
        err = measure(dir, steps[i]);
    }
    if (!err) {
        report(&read, &load, &diag, &all);
    } else {
        fprintf(stderr, "bench-diag-speed: %s\n", strerror(-err));
    }
    if (!keep) {
        remove_dir(dir);
    }
    return err ? 2 : 0;
}
