/* ctl-exec.c -- 'vnetctl chain exec CHAIN NODE [--shadow] -- PROGRAM [ARG...]': runs
 * a program inside a VNode (its namespaces and cgroup), the way 'virsh
 * lxc-enter-namespace' does, through libvirt-lxc.  NODE is an NF (the VNode serving
 * production, or with --shadow its shadow), "source", "sink" or "monitor".  The
 * program is exec'd with its argument vector as given: no shell is involved.  vnetd
 * tells which domain and libvirt URI to use. */
#include "vnetd/ctl-commands.h"
#include "lib/util.h"
#include "vnetd/lxc-proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libvirt/libvirt-lxc.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

static bool
pid_ns_inode(long pid, ino_t *ino)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%ld/ns/pid", pid);
    if (stat(path, &st) < 0) {
        return false;
    }
    *ino = st.st_ino;
    return true;
}

/* libvirt learns a container's init pid from a message of its controller; on a
 * loaded host that message has been seen never to arrive (CI: "Init pid is not
 * yet available" for 15 s for a container running since long before), and
 * libvirt then refuses to open its namespaces.  This finds the init the way
 * libvirt would have: an LXC domain's id is the pid of its controller
 * ("libvirt_lxc --name DOMAIN", checked), whose child in a PID namespace of its
 * own is the container's init.  Opens its ipc, uts, net, pid and mnt namespaces
 * (in the order they must be entered: mnt last) into '*fds'; returns how many,
 * or -1 with the reason in 'why'. */
static int
open_init_namespaces(virDomainPtr dom, const char *domain, int **fds, char *why,
                     size_t why_size)
{
    unsigned int id = virDomainGetID(dom);
    if (id == (unsigned int) -1 || !id) {
        snprintf(why, why_size, "libvirt gives the domain no id (not running?)");
        return -1;
    }
    if (!lxc_proc_is_controller("/proc", id, domain)) {
        snprintf(why, why_size, "process %u is not the domain's LXC controller", id);
        return -1;
    }
    char path[96], buf[4096];
    ino_t ctl_ns = 0, ns = 0;
    long init = -1;
    snprintf(path, sizeof path, "/proc/%u/task", id);
    DIR *tasks = pid_ns_inode(id, &ctl_ns) ? opendir(path) : NULL;
    for (struct dirent *t; tasks && init < 0 && (t = readdir(tasks));) {
        if (t->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof path, "/proc/%u/task/%.16s/children", id, t->d_name);
        if (lxc_proc_read(path, buf, sizeof buf) <= 0) {
            continue;
        }
        for (char *p = buf, *end; *p && init < 0; p = end) {
            long child = strtol(p, &end, 10);
            if (end == p) {
                break;
            }
            if (child > 0 && pid_ns_inode(child, &ns) && ns != ctl_ns) {
                init = child;
            }
        }
    }
    if (tasks) {
        closedir(tasks);
    }
    if (init < 0) {
        snprintf(why, why_size, "its controller (pid %u) has no child in a PID "
                 "namespace of its own", id);
        return -1;
    }
    static const char *const kinds[] = { "ipc", "uts", "net", "pid", "mnt" };
    *fds = vnet_xmalloc(sizeof kinds / sizeof *kinds * sizeof **fds);
    int k = 0;
    for (; k < (int) (sizeof kinds / sizeof *kinds); k++) {
        snprintf(path, sizeof path, "/proc/%ld/ns/%s", init, kinds[k]);
        if (((*fds)[k] = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
            snprintf(why, why_size, "%s: %s", path, strerror(errno));
            break;
        }
    }
    if (k < (int) (sizeof kinds / sizeof *kinds)) {
        while (k-- > 0) {
            close((*fds)[k]);
        }
        free(*fds);
        *fds = NULL;
        return -1;
    }
    return k;
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
    /* VNETCTL_TEST_FIND_INIT (tests only) takes the path libvirt's lost init pid
     * forces. */
    bool find_init = getenv("VNETCTL_TEST_FIND_INIT") != NULL;
    int n_fds = dom && !find_init ? virDomainLxcOpenNamespace(dom, &fds, 0) : -1;
    /* A container that has just started may not have told libvirt its init pid
     * yet ("Init pid is not yet available"): wait for it up to 5 s, then find the
     * init without libvirt's help. */
    for (int tries = 0; dom && !find_init && n_fds < 0; tries++) {
        virErrorPtr e = virGetLastError();
        if (!e || e->code != VIR_ERR_OPERATION_INVALID) {
            break;
        }
        if (tries == 50) {
            find_init = true;
            break;
        }
        struct timespec ts = { 0, 100000000 };
        nanosleep(&ts, NULL);
        n_fds = virDomainLxcOpenNamespace(dom, &fds, 0);
    }
    char why[256] = "";
    if (dom && find_init && n_fds < 0) {
        snprintf(why, sizeof why, "%s", virGetLastErrorMessage());
        char more[200];
        n_fds = open_init_namespaces(dom, domain, &fds, more, sizeof more);
        if (n_fds < 0) {
            size_t len = strlen(why);
            snprintf(why + len, sizeof why - len, "%sand finding its init failed: %s",
                     len ? "; " : "", more);
        }
    }
    if (n_fds < 0) {
        fprintf(ctx->err, "vnetctl: cannot enter VNode '%s' (%s): %s\n", node, domain,
                *why ? why : virGetLastErrorMessage());
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
