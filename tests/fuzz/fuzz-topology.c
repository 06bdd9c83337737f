/* fuzz-topology.c -- diag/topology.c: DIR/topology.json of an offline trace
 * directory, as `vnetctl diagnose --offline DIR` reads it.
 *
 * Input: the text of topology.json.  It is written into a private trace directory
 * that also holds capture files the seeds name ("fw.in.pcap", ...), a
 * subdirectory, a directory named like a capture and a symbolic link leading out of
 * the directory, then topology_load() reads the directory: the file checks run too.
 *
 * Checked, besides memory safety and leaks: an invalid file is an error naming
 * topology.json; a valid one is what topology.h promises: NFs 1.. with unique
 * names, a topological order of all of them, predecessor and successor lists that
 * mirror each other, equal type ids for equal types, capture paths inside DIR. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag/topology.h"
#include "lib/error.h"
#include "lib/util.h"
#include "tests/fuzz/fuzz.h"

static char *dir, *json_path;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    dir = vnet_xasprintf("%s/trace", fuzz_tmpdir());
    json_path = vnet_xasprintf("%s/topology.json", dir);
    static const char *const files[] = {
        "fw.in.pcap", "fw.out.pcap", "nat.in.pcap", "nat.out.pcap", "vpn.in.pcap",
        "vpn.out.pcap", "lb.in.pcap", "lb.out.pcap", "fw1.in.pcap", "fw1.out.pcap",
        "fw2.in.pcap", "fw2.out.pcap", "mon.in.pcap", "mon.out.pcap", "shaper.in.pcap",
        "shaper.out.pcap", "a.pcapng", "b.pcapng", "sub/x.pcap",
    };
    char *sub = vnet_xasprintf("%s/sub", dir);
    char *subdir = vnet_xasprintf("%s/dir.pcap", dir);
    char *link = vnet_xasprintf("%s/outside.pcap", dir);
    if (mkdir(dir, 0755) || mkdir(sub, 0755) || mkdir(subdir, 0755)
        || symlink("/etc/passwd", link)) {
        perror("fuzz-topology: set-up");
        abort();
    }
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char *p = vnet_xasprintf("%s/%s", dir, files[i]);
        fuzz_write_file(p, "", 0);
        free(p);
    }
    free(sub);
    free(subdir);
    free(link);
    return 0;
}

static bool
contains(const uint32_t *ids, size_t n, uint32_t id)
{
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == id) {
            return true;
        }
    }
    return false;
}

static void
check_topology(const struct topology *t)
{
    size_t n = t->n_nfs;
    fuzz_check(n >= 2 && n <= TOPOLOGY_MAX_NFS + 1, "NF count");
    fuzz_check(!strcmp(t->dir, dir), "directory");
    bool *seen = calloc(n, sizeof *seen);
    for (size_t k = 0; k + 1 < n; k++) {
        uint32_t v = t->order[k];
        fuzz_check(v >= 1 && v < n && !seen[v],
                   "the order is a permutation of the NFs");
        seen[v] = true;
        for (size_t j = 0; j < t->nfs[v].n_preds; j++) {
            uint32_t p = t->nfs[v].preds[j];
            fuzz_check(p == NF_SOURCE || (p < n && seen[p]),
                       "predecessors come first in the order");
        }
    }
    free(seen);
    for (size_t i = 1; i < n; i++) {
        const struct topology_nf *nf = &t->nfs[i];
        fuzz_check(topology_find_nf(t, nf->name) == (int) i, "unique names");
        fuzz_check(nf->n_preds && nf->n_succs, "every NF has an input and an output");
        for (size_t j = 0; j < nf->n_succs; j++) {
            uint32_t s = nf->succs[j];
            fuzz_check(s == NF_EGRESS || (s >= 1 && s < n && contains(
                           t->nfs[s].preds, t->nfs[s].n_preds, (uint32_t) i)),
                       "successor lists mirror predecessor lists");
        }
        for (size_t j = 1; j < n; j++) {
            fuzz_check((nf->type_id == t->nfs[j].type_id)
                       == !strcmp(nf->type, t->nfs[j].type), "type ids");
        }
        char *in = vnet_xasprintf("%s/%s", dir, nf->in_file);
        char *out = vnet_xasprintf("%s/%s", dir, nf->out_file);
        fuzz_check(!strcmp(in, nf->in_path) && !strcmp(out, nf->out_path)
                   && strcmp(in, out), "capture paths");
        fuzz_check(!access(in, R_OK) && !access(out, R_OK), "capture files exist");
        free(in);
        free(out);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write_file(json_path, data, size);
    struct topology *t;
    struct vnet_error *error = topology_load(dir, &t);
    if (error) {
        fuzz_check(!strncmp(error->message, json_path, strlen(json_path)),
                   "errors name topology.json");
        vnet_error_destroy(error);
        return 0;
    }
    check_topology(t);
    topology_destroy(t);
    return 0;
}
