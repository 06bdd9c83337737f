/* ctl-exec.c -- 'vnetctl chain exec CHAIN NODE [--shadow] -- PROGRAM [ARG...]': runs
 * a program inside a VNode (its namespaces and cgroup), the way 'virsh
 * lxc-enter-namespace' does, through libvirt-lxc.  NODE is an NF (the VNode serving
 * production, or with --shadow its shadow), "source", "sink" or "monitor".  The
 * program is exec'd with its argument vector as given: no shell is involved.  vnetd
 * tells which domain and libvirt URI to use. */
#include "vnetd/ctl-commands.h"

#include <errno.h>
#include <json-c/json.h>
#include <libvirt/libvirt-lxc.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *
get_str(struct json_object *obj, const char *key)
{
    struct json_object *v;
    return json_object_object_get_ex(obj, key, &v) ? json_object_get_string(v) : NULL;
}

/* Finds the domain of 'node' in a chain/show result: for an NF, the VNode serving
 * production or, if 'shadow', the one that does not (both sides have the NF's
 * name).  Only NFs have a shadow. */
static const char *
find_domain(struct json_object *chain, const char *node, bool shadow)
{
    struct json_object *vnodes = json_object_object_get(
        json_object_object_get(chain, "instance"), "vnodes");
    for (size_t i = 0; i < json_object_array_length(vnodes); i++) {
        struct json_object *v = json_object_array_get_idx(vnodes, i);
        const char *serves = get_str(v, "serves");
        if (!strcmp(get_str(v, "node"), node)
            && (serves ? !strcmp(serves, shadow ? "shadow" : "production") : !shadow)) {
            return get_str(v, "domain");
        }
    }
    return NULL;
}

static void
quiet(void *aux, virErrorPtr err)
{
    (void) aux;
    (void) err;
}

int
ctl_cmd_chain_exec(struct ctl_context *ctx)
{
    const char *chain = ctx->argv[0], *node = ctx->argv[1];
    struct json_object *params = json_object_new_object();
    json_object_object_add(params, "name", json_object_new_string(chain));
    struct json_object *shown, *status;
    int rc = ctl_call(ctx, "chain/show", params, &shown);
    if (rc) {
        return rc;
    }
    rc = ctl_call(ctx, "status", NULL, &status);
    if (rc) {
        json_object_put(shown);
        return rc;
    }
    bool shadow = ctl_get_option(ctx, "shadow") != NULL;
    const char *domain = find_domain(shown, node, shadow);
    const char *uri = get_str(json_object_object_get(
                                  json_object_object_get(status, "substrate"), "libvirt"),
                              "uri");
    if (!domain || !uri) {
        fprintf(ctx->err, "vnetctl: chain '%s' has no running %sVNode '%s'\n", chain,
                shadow ? "shadow " : "", node);
        json_object_put(shown);
        json_object_put(status);
        return CTL_EXIT_DAEMON;
    }

    virSetErrorFunc(NULL, quiet);
    virConnectPtr conn = virConnectOpen(uri);
    virDomainPtr dom = conn ? virDomainLookupByName(conn, domain) : NULL;
    int *fds = NULL;
    int n_fds = dom ? virDomainLxcOpenNamespace(dom, &fds, 0) : -1;
    /* A container that has just started may not have told libvirt its init pid
     * yet ("Init pid is not yet available"): wait for it up to 15 s (a loaded
     * host has been seen to take longer than 5). */
    for (int tries = 0; dom && n_fds < 0 && tries < 150; tries++) {
        virErrorPtr e = virGetLastError();
        if (!e || e->code != VIR_ERR_OPERATION_INVALID) {
            break;
        }
        struct timespec ts = { 0, 100000000 };
        nanosleep(&ts, NULL);
        n_fds = virDomainLxcOpenNamespace(dom, &fds, 0);
    }
    if (n_fds < 0) {
        fprintf(ctx->err, "vnetctl: cannot enter VNode '%s' (%s): %s\n", node, domain,
                virGetLastErrorMessage());
        rc = CTL_EXIT_USAGE;
        goto out;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(ctx->err, "vnetctl: fork: %s\n", strerror(errno));
        rc = CTL_EXIT_USAGE;
        goto out;
    }
    if (pid == 0) {
        if (virDomainLxcEnterCGroup(dom, 0) < 0
            || virDomainLxcEnterNamespace(dom, (unsigned int) n_fds, fds, NULL, NULL,
                                          0) < 0) {
            fprintf(stderr, "vnetctl: entering '%s' failed: %s\n", domain,
                    virGetLastErrorMessage());
            _exit(126);
        }
        /* The PID namespace applies to children only: fork once more. */
        pid_t inner = fork();
        if (inner == 0) {
            execvp(ctx->argv[2], &ctx->argv[2]);
            fprintf(stderr, "vnetctl: cannot run '%s' in '%s': %s\n", ctx->argv[2],
                    domain, strerror(errno));
            _exit(127);
        }
        int st = 0;
        while (inner > 0 && waitpid(inner, &st, 0) < 0 && errno == EINTR) {
            continue;
        }
        _exit(inner < 0 ? 126 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        continue;
    }
    /* The program's own status, so scripts see what it said. */
    rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);

out:
    for (int i = 0; i < n_fds; i++) {
        close(fds[i]);
    }
    free(fds);
    if (dom) {
        virDomainFree(dom);
    }
    if (conn) {
        virConnectClose(conn);
    }
    json_object_put(shown);
    json_object_put(status);
    return rc;
}
