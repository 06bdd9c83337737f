/* vnet-sim -- writes a simulated fault scenario (spec F.2) in the offline capture
 * format of `vnetctl diagnose --offline`, with its counterfactual ground truth.
 *
 *   vnet-sim --scenario S1 --seed 7 [--duration MS] [--scale F]
 *            [--topology chain|dag|shaper] [--jitter J] --out DIR
 *   vnet-sim --list
 *
 * Exit codes: 0 ok, 1 usage, 2 the run failed (e.g. DIR not writable). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/error.h"
#include "lib/util.h"
#include "tests/sim/sim-scenario.h"
#include "tests/sim/sim-truth.h"
#include "tests/sim/sim.h"

static void
usage(FILE *f)
{
    fputs("usage: vnet-sim --scenario NAME --seed N [--duration MS] [--scale F]\n"
          "                [--topology chain|dag|shaper] [--jitter J] --out DIR\n"
          "       vnet-sim --list\n"
          "Simulates scenario NAME (S1..S9, S4a/S4b; see --list) and writes DIR/\n"
          "topology.json, DIR/<nf>.in.pcap and DIR/<nf>.out.pcap (the input of\n"
          "`vnetctl diagnose --offline DIR`) and DIR/truth.json, the ground truth by\n"
          "counterfactual.  --scale F divides every rate by F and stretches every\n"
          "time by F (same run in packet units); --duration is simulated ms;\n"
          "--jitter J makes every NF's service time uniform in (1 +- J) / rate.\n",
          f);
}

static void
list_scenarios(void)
{
    for (size_t i = 0; i < sim_scenario_count(); i++) {
        const struct sim_scenario *s = sim_scenario_at(i);
        printf("%-4s %-9s %5" PRIu64 " ms  %s\n", s->name, s->topology,
               s->duration_ms, s->summary);
    }
}

static int
bad_arg(const char *opt, const char *expected, const char *got)
{
    fprintf(stderr, "vnet-sim: %s: expected %s, got '%s'\n", opt, expected, got);
    return 1;
}

static int
run(const struct sim_config *cfg, const char *dir)
{
    struct sim *sim = NULL;
    struct sim_result *r = NULL;
    struct sim_truth *truth = NULL;
    struct vnet_error *e = sim_create(cfg, &sim);
    if (!e) {
        r = sim_run(sim, sim_all_faults(sim));
        e = sim_write_offline(r, dir);
    }
    if (!e) {
        truth = sim_truth_compute(r);
        char *path = vnet_xasprintf("%s/truth.json", dir);
        e = sim_truth_write(truth, path);
        free(path);
    }
    if (e) {
        fprintf(stderr, "vnet-sim: %s\n", e->message);
        vnet_error_destroy(e);
    } else {
        printf("%s seed %" PRIu64 " (%s, scale %g): %zu packets, %zu faults, %zu "
               "affected victims, written to %s\n", cfg->scenario, cfg->seed,
               cfg->topology, cfg->scale, sim->n_pkts, cfg->n_faults,
               truth->n_victims, dir);
        for (size_t f = 0; f < truth->n_nfs; f++) {
            printf("  %-8s %8" PRIu64 " packets %7" PRIu64 " drops %7" PRIu64
                   " affected\n", truth->nf_names[f], truth->nfs[f].packets,
                   truth->nfs[f].drops, truth->nfs[f].affected);
        }
    }
    sim_truth_destroy(truth);
    sim_result_destroy(r);
    sim_destroy(sim);
    return e ? 2 : 0;
}

int
main(int argc, char *argv[])
{
    static const struct option options[] = {
        { "scenario", required_argument, NULL, 's' },
        { "seed", required_argument, NULL, 'S' },
        { "duration", required_argument, NULL, 'd' },
        { "scale", required_argument, NULL, 'x' },
        { "topology", required_argument, NULL, 't' },
        { "out", required_argument, NULL, 'o' },
        { "jitter", required_argument, NULL, 'j' },
        { "list", no_argument, NULL, 'l' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *scenario = NULL, *topology = NULL, *out = NULL;
    unsigned long long seed = 0, duration_ms = 0;
    bool have_seed = false;
    double scale = 1, jitter = 0;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        char *end;
        switch (c) {
        case 's':
            scenario = optarg;
            break;
        case 'S':
            if (vnet_parse_uint(optarg, 0, UINT64_MAX, &seed)) {
                return bad_arg("--seed", "a non-negative integer", optarg);
            }
            have_seed = true;
            break;
        case 'd':
            if (vnet_parse_uint(optarg, 1, 3600000, &duration_ms)) {
                return bad_arg("--duration", "milliseconds 1..3600000", optarg);
            }
            break;
        case 'x':
            errno = 0;
            scale = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(scale >= 1 && scale <= 1000)) {
                return bad_arg("--scale", "a factor 1..1000", optarg);
            }
            break;
        case 't':
            topology = optarg;
            break;
        case 'j':
            errno = 0;
            jitter = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(jitter >= 0 && jitter <= 0.9)) {
                return bad_arg("--jitter", "a fraction 0..0.9", optarg);
            }
            break;
        case 'o':
            out = optarg;
            break;
        case 'l':
            list_scenarios();
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            fprintf(stderr, "vnet-sim: %s: unknown option or missing argument\n",
                    argv[optind - 1]);
            usage(stderr);
            return 1;
        }
    }
    if (optind < argc) {
        return bad_arg("arguments", "options only", argv[optind]);
    }
    if (!scenario || !have_seed || !out) {
        fprintf(stderr, "vnet-sim: %s is required\n",
                !scenario ? "--scenario NAME" : !have_seed ? "--seed N" : "--out DIR");
        usage(stderr);
        return 1;
    }
    struct sim_config *cfg = vnet_xmalloc(sizeof *cfg);
    struct vnet_error *e = sim_scenario_config(scenario, seed, scale,
                                               duration_ms * UINT64_C(1000000),
                                               topology, cfg);
    if (e) {
        fprintf(stderr, "vnet-sim: --%s\n", e->message);
        vnet_error_destroy(e);
        free(cfg);
        return 1;
    }
    for (size_t i = 0; i < cfg->n_nfs; i++) {
        cfg->nfs[i].service_jitter = jitter;
    }
    int status = run(cfg, out);
    free(cfg);
    return status;
}
