#include "vnetd/libvirt-adapter.h"

#include <config.h>

#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "openvswitch/poll-loop.h"
#include "openvswitch/util.h"
#include "lib/crashpoint.h"
#include "lib/log.h"
#include "lib/util.h"
#include "vnetd/domain-xml.h"
#include "vnetd/lxc-proc.h"

VNLOG_DEFINE_THIS_MODULE(libvirt);

#define PASS_INTERVAL_MS 2000
#define MAX_BACKOFF_MS 5000

struct desired_copy {
    char *name, *xml, *spec;
    bool running;
    struct lv_cputune cputune;
};

/* A VNode that stops on its own soon after it was started (its program exits at
 * once) is started again at once twice; from the third such stop in a row on,
 * only after a doubling delay, and with an error in its status -- so an operation
 * waiting for it fails with the reason instead of waiting out its timeout, and a
 * broken NF does not make its container restart several times a second. */
#define QUICK_STOP_NS (10ull * 1000000000)     /* "soon after it was started" */
#define QUICK_STOPS_TOLERATED 2
#define RESTART_DELAY_MIN_MS 1000ull
#define RESTART_DELAY_MAX_MS 60000ull

/* libvirt 9.0's LXC driver can miss a container's end.  When its init exits
 * before libvirtd has connected to the container's controller (the domain's log
 * says "Dropping event 1 because libvirtd is not connected"), the controller
 * exits and libvirt reports the domain running until it is destroyed: no stop
 * event, no NF, and an operation waiting for it times out (a VNode whose program
 * exits at once: 3 of 45 starts in one run on a 2-core host; CI saw it).
 * Where libvirtd is local and in this PID namespace -- proven once a running
 * domain's id was found to be the pid of its controller, "libvirt_lxc --name
 * DOMAIN" -- a running domain whose controller process stays gone for
 * GHOST_GRACE_NS is destroyed; that counts as a stop of its own (and restarts it
 * if it is wanted running).  The grace covers libvirtd's own, normal, lag. */
#define GHOST_GRACE_NS (2ull * 1000000000)
#define GHOST_PASS_MS 250

struct restart_record {
    char *name;
    uint64_t ghost_since_ns;    /* when found running without its controller */
    uint64_t started_ns;        /* when this adapter last started it; 0: since
                                 * then stopped or redefined on purpose */
    uint64_t stopped_ns;        /* when it was found stopped after that start */
    unsigned int quick_stops;   /* in a row */
};

struct actual {
    char *name;
    char *chain;                /* owner chain if ours */
    char *spec;
    enum lv_domain_state state;
    bool ghost;                 /* running, says libvirt; its controller is gone */
};

struct status_entry {
    char *name;
    char *chain;
    struct lv_domain_status st;
};

/* The worker's last error per domain.  A convergence pass re-raises the errors
 * that persist ('fresh'); the others are dropped at its end. */
struct domain_error {
    char *name;
    char msg[sizeof ((struct lv_domain_status *) 0)->error];
    bool fresh;
};

struct libvirt_adapter {
    char *uri;
    char *instance;
    pthread_t worker, evloop;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int efd;                        /* wakes the main loop */

    /* Protected by 'mutex'. */
    bool stop, wake, desired_set;
    struct desired_copy *desired;
    size_t n_desired;
    uint64_t desired_gen;
    struct status_entry *status;
    size_t n_status;
    bool connected, converged;
    uint64_t status_gen;            /* desired_gen the published status saw */
    char **events;
    size_t n_events, cap_events;
    bool changed;

    /* Worker thread only. */
    virConnectPtr conn;
    int cb_id;
    volatile int conn_dead;
    bool lxc_local;                 /* libvirtd's LXC driver, on this host */
    bool pids_shared;               /* a controller was seen at its domain's id */
    bool ghosts_pending;            /* a ghost awaits its grace: pass again soon */
    unsigned int backoff_ms;
    struct domain_error *errors;
    size_t n_errors;
    struct restart_record *restarts;
    size_t n_restarts;
};

static void
quiet_errors(void *aux, virErrorPtr err)
{
    (void) aux;
    (void) err;
}

static const char *
last_error(void)
{
    const char *msg = virGetLastErrorMessage();
    return msg ? msg : "unknown libvirt error";
}

const char *
lv_domain_state_to_string(enum lv_domain_state s)
{
    static const char *const names[] = { "absent", "defined", "running", "foreign" };
    return names[s];
}

static void
notify_main(struct libvirt_adapter *a)
{
    uint64_t one = 1;
    ssize_t r = write(a->efd, &one, sizeof one);
    (void) r;
}

static void
push_event(struct libvirt_adapter *a, char *msg)
{
    pthread_mutex_lock(&a->mutex);
    if (a->n_events < 1000) {
        vnet_grow((void **) &a->events, &a->cap_events, a->n_events + 1,
                  sizeof *a->events);
        a->events[a->n_events++] = msg;
    } else {
        free(msg);
    }
    a->wake = true;
    pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->mutex);
    notify_main(a);
}

/* ---- event loop thread ------------------------------------------------------- */

static void *
evloop_main(void *a_)
{
    struct libvirt_adapter *a = a_;
    for (;;) {
        pthread_mutex_lock(&a->mutex);
        bool stop = a->stop;
        pthread_mutex_unlock(&a->mutex);
        if (stop) {
            return NULL;
        }
        if (virEventRunDefaultImpl() < 0) {
            usleep(100000);
        }
    }
}

static void
wake_evloop(int timer, void *aux)
{
    (void) aux;
    virEventRemoveTimeout(timer);
}

static int
on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *a_)
{
    static const char *const names[] = {
        "defined", "undefined", "started", "suspended", "resumed", "stopped",
        "shutdown", "pmsuspended", "crashed",
    };
    struct libvirt_adapter *a = a_;
    (void) conn;
    const char *what = (event >= 0 && (size_t) event < VNET_ARRAY_SIZE(names)
                        ? names[event] : "changed");
    push_event(a, vnet_xasprintf("domain '%s' %s (detail %d)", virDomainGetName(dom),
                                 what, detail));
    return 0;
}

static void
on_close(virConnectPtr conn, int reason, void *a_)
{
    struct libvirt_adapter *a = a_;
    (void) conn;
    a->conn_dead = 1;
    push_event(a, vnet_xasprintf("connection to libvirtd closed (reason %d)", reason));
}

/* ---- worker thread ----------------------------------------------------------- */

static void
disconnect(struct libvirt_adapter *a)
{
    if (a->conn) {
        if (a->cb_id >= 0) {
            virConnectDomainEventDeregisterAny(a->conn, a->cb_id);
        }
        virConnectUnregisterCloseCallback(a->conn, on_close);
        virConnectClose(a->conn);
        a->conn = NULL;
        a->cb_id = -1;
    }
}

/* Whether 'uri' names a libvirtd on this host: no host part, and no transport
 * but the local socket ("lxc:///system", "lxc+unix:///system?socket=..."). */
static bool
uri_is_local(const char *uri)
{
    const char *sep = strstr(uri, "://");
    if (!sep || sep[3] != '/') {
        return false;
    }
    const char *plus = memchr(uri, '+', (size_t) (sep - uri));
    return !plus || (sep - plus == 5 && !strncmp(plus, "+unix", 5));
}

static bool
connect_libvirt(struct libvirt_adapter *a)
{
    a->conn_dead = 0;
    a->conn = virConnectOpen(a->uri);
    if (!a->conn) {
        VNLOG_DBG("cannot connect to '%s': %s", a->uri, last_error());
        return false;
    }
    a->cb_id = virConnectDomainEventRegisterAny(a->conn, NULL,
                                                VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle),
                                                a, NULL);
    virConnectRegisterCloseCallback(a->conn, on_close, a, NULL);
    if (virConnectSetKeepAlive(a->conn, 2, 3) < 0) {
        VNLOG_DBG("keepalive not available: %s", last_error());
    }
    const char *type = virConnectGetType(a->conn);
    a->lxc_local = type && !strcmp(type, "LXC") && uri_is_local(a->uri);
    VNLOG_INFO("connected to '%s'", a->uri);
    return true;
}

static void
actual_free(struct actual *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(list[i].name);
        free(list[i].chain);
        free(list[i].spec);
    }
    free(list);
}

/* Whether a per-domain query that failed spoils the whole listing: anything but
 * "that domain is gone meanwhile" (libvirtd stopping mid-pass answers every call
 * with an error, and a state guessed from an error would have vnetd unplug a
 * running VNode). */
static bool
listing_spoiled(const char *what, const char *name)
{
    if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN) {
        return false;
    }
    VNLOG_DBG("listing domains failed at %s of '%s': %s", what, name, last_error());
    return true;
}

/* Lists every domain; ours get their owner chain, spec and state.  Returns false
 * if any answer is missing (the connection failed, or libvirtd is stopping): a
 * partial listing is never published, since a VNode missing from it would count
 * as stopped.  Domains that vanish while being listed are left out. */
static bool
list_actual(struct libvirt_adapter *a, struct actual **ret, size_t *ret_n)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(a->conn, &doms, 0);
    if (n < 0) {
        VNLOG_DBG("listing domains failed: %s", last_error());
        return false;
    }
    struct actual *list = vnet_xcalloc((size_t) n + 1, sizeof *list);
    size_t k = 0;
    bool ok = true;
    for (int i = 0; i < n && ok; i++) {
        const char *name = virDomainGetName(doms[i]);
        struct actual x = { .name = vnet_xstrdup(name), .state = LV_FOREIGN };
        char *md = virDomainGetMetadata(doms[i], VIR_DOMAIN_METADATA_ELEMENT,
                                        VNET_XML_NS, VIR_DOMAIN_AFFECT_CONFIG);
        struct vnode_owner owner;
        int state, reason;
        if (!md && virGetLastErrorCode() != VIR_ERR_NO_DOMAIN_METADATA) {
            ok = !listing_spoiled("the metadata", name);
            x.state = LV_ABSENT;
        } else if (md && !domain_xml_parse_owner(md, &owner)) {
            if (strcmp(owner.instance, a->instance)) {
                /* another vnetd's: foreign */
            } else if (virDomainGetState(doms[i], &state, &reason, 0) < 0) {
                ok = !listing_spoiled("the state", name);
                x.state = LV_ABSENT;
            } else {
                x.chain = vnet_xstrdup(owner.chain);
                x.spec = vnet_xstrdup(owner.spec);
                x.state = (state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_BLOCKED
                           || state == VIR_DOMAIN_PAUSED) ? LV_RUNNING : LV_DEFINED;
                if (x.state == LV_RUNNING && a->lxc_local) {
                    bool alive = lxc_proc_is_controller("/proc", virDomainGetID(doms[i]),
                                                        name);
                    a->pids_shared |= alive;
                    x.ghost = !alive;
                }
            }
            vnode_owner_clear(&owner);
        }
        free(md);
        if (x.state == LV_ABSENT) {
            free(x.name);
        } else {
            list[k++] = x;
        }
    }
    for (int i = 0; i < n; i++) {
        virDomainFree(doms[i]);
    }
    free(doms);
    if (!ok) {
        actual_free(list, k);
        return false;
    }
    *ret = list;
    *ret_n = k;
    return true;
}

static struct domain_error *
find_error(struct libvirt_adapter *a, const char *name)
{
    for (size_t i = 0; i < a->n_errors; i++) {
        if (!strcmp(a->errors[i].name, name)) {
            return &a->errors[i];
        }
    }
    return NULL;
}

static void
set_error(struct libvirt_adapter *a, const char *name, const char *fmt, ...)
    VNET_PRINTF(3, 4);

static void
set_error(struct libvirt_adapter *a, const char *name, const char *fmt, ...)
{
    struct domain_error *e = find_error(a, name);
    if (!e) {
        a->errors = vnet_xrealloc(a->errors, (a->n_errors + 1) * sizeof *a->errors);
        e = &a->errors[a->n_errors++];
        memset(e, 0, sizeof *e);
        e->name = vnet_xstrdup(name);
    }
    char msg[sizeof e->msg];
    va_list args;
    va_start(args, fmt);
    vsnprintf(msg, sizeof msg, fmt, args);
    va_end(args);
    /* Logged when it appears or changes, not at every pass it persists
     * ('status' shows it meanwhile). */
    if (strcmp(msg, e->msg)) {
        VNLOG_WARN("%s: %s", name, msg);
    }
    memcpy(e->msg, msg, sizeof msg);
    e->fresh = true;
}

static void
clear_error(struct libvirt_adapter *a, const char *name)
{
    struct domain_error *e = find_error(a, name);
    if (e && e->msg[0]) {
        VNLOG_INFO("%s: recovered from \"%s\"", name, e->msg);
        e->msg[0] = '\0';
    }
}

static const struct actual *
find_actual(const struct actual *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(list[i].name, name)) {
            return &list[i];
        }
    }
    return NULL;
}

static bool
check_rc(struct libvirt_adapter *a, const char *what, const char *name, int rc)
{
    if (rc < 0) {
        set_error(a, name, "%s failed: %s", what, last_error());
        return false;
    }
    return true;
}

/* A quota this large is no cap (cgroup v2's "max" reads as about 1.8e13 us). */
#define NO_CAP_QUOTA_US 1000000000LL

/* Brings the CPU limits of running domain 'dom' to 'want', live and in its
 * persistent definition (which a restart uses).  Returns 1 if it changed them, 0
 * if they were right, -1 on failure (recorded). */
static int
apply_cputune(struct libvirt_adapter *a, virDomainPtr dom, const char *name,
              const struct lv_cputune *want)
{
    /* The limits in force are read from the live definition, which libvirt keeps
     * equal to what it applied -- never with virDomainGetSchedulerParameters*():
     * libvirt 9.0's LXC driver dereferences the domain's cgroup there before
     * checking that it runs, and libvirtd segfaults (virCgroupSupportsCpuBW) for
     * a domain that has just stopped or is still starting. */
    char *xml = virDomainGetXMLDesc(dom, 0);
    struct domain_cputune have;
    if (!xml || domain_xml_parse_cputune(xml, &have) < 0) {
        set_error(a, name, "reading CPU limits failed: %s",
                  xml ? "the live definition has no valid <cputune>" : last_error());
        free(xml);
        return -1;
    }
    free(xml);
    unsigned long long shares = have.shares, period = have.period_us;
    long long quota = have.quota_us;
    bool capped = want->quota_us > 0;
    bool uncapped_now = quota <= 0 || quota >= NO_CAP_QUOTA_US;
    if (shares == want->shares
        && (capped ? period == want->period_us && quota == want->quota_us
                   : uncapped_now)) {
        return 0;
    }
    virTypedParameterPtr set = NULL;
    int n_set = 0, cap = 0;
    virTypedParamsAddULLong(&set, &n_set, &cap, VIR_DOMAIN_SCHEDULER_CPU_SHARES,
                            want->shares);
    if (capped) {
        virTypedParamsAddULLong(&set, &n_set, &cap, VIR_DOMAIN_SCHEDULER_VCPU_PERIOD,
                                want->period_us);
    }
    virTypedParamsAddLLong(&set, &n_set, &cap, VIR_DOMAIN_SCHEDULER_VCPU_QUOTA,
                           capped ? want->quota_us : -1);
    int rc = virDomainSetSchedulerParametersFlags(dom, set, n_set,
                                                  VIR_DOMAIN_AFFECT_LIVE
                                                  | VIR_DOMAIN_AFFECT_CONFIG);
    virTypedParamsFree(set, n_set);
    if (!check_rc(a, "setting CPU limits", name, rc)) {
        return -1;
    }
    VNLOG_INFO("CPU limits of '%s': shares %u, %s", name, want->shares,
               capped ? "capped" : "no cap");
    VNLOG_DBG("'%s': quota %d us per %u us (was shares %llu, quota %lld per %llu)",
              name, want->quota_us, want->period_us, shares, quota, period);
    return 1;
}

static struct restart_record *
restart_record(struct libvirt_adapter *a, const char *name, bool create)
{
    for (size_t i = 0; i < a->n_restarts; i++) {
        if (!strcmp(a->restarts[i].name, name)) {
            return &a->restarts[i];
        }
    }
    if (!create) {
        return NULL;
    }
    a->restarts = vnet_xrealloc(a->restarts, (a->n_restarts + 1) * sizeof *a->restarts);
    struct restart_record *r = &a->restarts[a->n_restarts++];
    *r = (struct restart_record) { .name = vnet_xstrdup(name) };
    return r;
}

/* 'name' was stopped, redefined or removed on purpose: its next stop is not
 * counted against it. */
static void
restart_forget(struct libvirt_adapter *a, const char *name)
{
    struct restart_record *r = restart_record(a, name, false);
    if (r) {
        r->started_ns = r->stopped_ns = 0;
        r->quick_stops = 0;
    }
}

/* 'name', found stopped and wanted running: how long to wait before starting it
 * again (0: now).  Counts a stop soon after this adapter started it. */
static uint64_t
restart_wait_ns(struct libvirt_adapter *a, const char *name, uint64_t now,
                unsigned int *ret_quick_stops, uint64_t *ret_delay_ms)
{
    struct restart_record *r = restart_record(a, name, false);
    *ret_quick_stops = 0;
    *ret_delay_ms = 0;
    if (!r || !r->started_ns) {
        return 0;
    }
    if (!r->stopped_ns) {
        r->stopped_ns = now;
        r->quick_stops = now - r->started_ns < QUICK_STOP_NS ? r->quick_stops + 1 : 0;
    }
    *ret_quick_stops = r->quick_stops;
    if (r->quick_stops <= QUICK_STOPS_TOLERATED) {
        return 0;
    }
    unsigned int doublings = VNET_MIN(r->quick_stops - QUICK_STOPS_TOLERATED - 1, 6u);
    uint64_t delay_ms = VNET_MIN(RESTART_DELAY_MIN_MS << doublings, RESTART_DELAY_MAX_MS);
    *ret_delay_ms = delay_ms;
    uint64_t due = r->stopped_ns + delay_ms * 1000000;
    return due > now ? due - now : 0;
}

static void
restart_started(struct libvirt_adapter *a, const char *name, uint64_t now)
{
    struct restart_record *r = restart_record(a, name, true);
    r->started_ns = now;
    r->stopped_ns = 0;
    r->ghost_since_ns = 0;
}

/* Notes since when each domain of 'have' has been a ghost (see GHOST_GRACE_NS);
 * returns true if one of them awaits its grace. */
static bool
track_ghosts(struct libvirt_adapter *a, const struct actual *have, size_t n_have,
             uint64_t now)
{
    bool pending = false;
    for (size_t i = 0; i < n_have; i++) {
        bool ghost = have[i].ghost && a->pids_shared;
        struct restart_record *r = restart_record(a, have[i].name, ghost);
        if (r && !ghost) {
            r->ghost_since_ns = 0;
        } else if (r) {
            r->ghost_since_ns = r->ghost_since_ns ? r->ghost_since_ns : now;
            pending |= now - r->ghost_since_ns < GHOST_GRACE_NS;
        }
    }
    return pending;
}

static bool
ghost_confirmed(struct libvirt_adapter *a, const char *name, uint64_t now)
{
    struct restart_record *r = restart_record(a, name, false);
    return r && r->ghost_since_ns && now - r->ghost_since_ns >= GHOST_GRACE_NS;
}

/* One convergence step.  Returns the number of actions taken; errors found on the
 * way are recorded per domain (and replace those of the previous step).
 * '*ret_progress' tells whether any action succeeded. */
static int
converge(struct libvirt_adapter *a, const struct desired_copy *want, size_t n_want,
         const struct actual *have, size_t n_have, bool *ret_progress)
{
    int actions = 0, failures = 0;
    a->ghosts_pending = track_ghosts(a, have, n_have, vnet_mono_ns());
    for (size_t i = 0; i < a->n_errors; i++) {
        a->errors[i].fresh = false;
    }
    for (size_t i = 0; i < n_want; i++) {
        const struct desired_copy *d = &want[i];
        const struct actual *x = find_actual(have, n_have, d->name);
        if (x && x->state == LV_FOREIGN) {
            set_error(a, d->name, "a domain with this name exists and is not owned by "
                      "this vnetd; it is left alone");
            continue;
        }
        virDomainPtr dom = x ? virDomainLookupByName(a->conn, d->name) : NULL;
        if (x && !dom) {
            set_error(a, d->name, "lookup failed: %s", last_error());
            continue;
        }
        bool running = x && x->state == LV_RUNNING;
        bool ok = true;
        if (running && ghost_confirmed(a, d->name, vnet_mono_ns())) {
            VNLOG_WARN("%s: libvirt reports it running, but its container's controller "
                       "has been gone for %.0f s; destroying it so that it counts as "
                       "stopped", d->name, (double) GHOST_GRACE_NS / 1e9);
            crashpoint("libvirt-destroy");
            ok = check_rc(a, "destroy (its controller is gone)", d->name,
                          virDomainDestroy(dom));
            crashpoint("libvirt-destroyed");
            running = !ok;
            restart_record(a, d->name, false)->ghost_since_ns = 0;
            actions++;
        }
        if (!x || strcmp(x->spec, d->spec)) {
            restart_forget(a, d->name);     /* a new definition starts afresh */
            if (running) {
                crashpoint("libvirt-destroy");
                ok = check_rc(a, "destroy (to apply a new definition)", d->name,
                           virDomainDestroy(dom));
                crashpoint("libvirt-destroyed");
                running = false;
                actions++;
            }
            if (ok) {
                /* An existing domain is redefined under its own UUID. */
                char uuid[VIR_UUID_STRING_BUFLEN];
                char *xml = (dom && !virDomainGetUUIDString(dom, uuid)
                             ? domain_xml_with_uuid(d->xml, uuid) : NULL);
                crashpoint("libvirt-define");
                virDomainPtr defined = virDomainDefineXML(a->conn, xml ? xml : d->xml);
                crashpoint("libvirt-defined");
                free(xml);
                ok = defined != NULL;
                if (!ok) {
                    set_error(a, d->name, "define failed: %s", last_error());
                } else {
                    VNLOG_INFO("defined domain '%s'", d->name);
                    if (dom) {
                        virDomainFree(dom);
                    }
                    dom = defined;
                }
                actions++;
            }
        }
        unsigned int quick_stops;
        uint64_t delay_ms, t0 = vnet_mono_ns();
        uint64_t wait_ns = (ok && d->running && !running
                            ? restart_wait_ns(a, d->name, t0, &quick_stops, &delay_ms)
                            : 0);
        if (wait_ns) {
            /* No countdown in the text: it is logged when it changes. */
            set_error(a, d->name, "it stopped on its own soon after each of its last "
                      "%u starts (does its program exit?); starting it again %.0f s "
                      "after its last stop", quick_stops, (double) delay_ms / 1e3);
            ok = false;
        } else if (ok && d->running && !running) {
            crashpoint("libvirt-start");
            ok = check_rc(a, "start", d->name, virDomainCreate(dom));
            crashpoint("libvirt-started");
            if (ok) {
                uint64_t now = vnet_mono_ns();
                restart_started(a, d->name, now);
                VNLOG_INFO("started domain '%s' in %llu ms", d->name,
                           (unsigned long long) ((now - t0) / 1000000));
            }
            actions++;
        } else if (ok && !d->running && running) {
            restart_forget(a, d->name);
            crashpoint("libvirt-destroy");
            ok = check_rc(a, "destroy", d->name, virDomainDestroy(dom));
            crashpoint("libvirt-destroyed");
            actions++;
        }
        if (ok && d->running && d->cputune.shares) {
            int r = apply_cputune(a, dom, d->name, &d->cputune);
            ok = r >= 0;
            actions += r > 0;
        }
        if (ok) {
            clear_error(a, d->name);
        } else {
            failures++;
        }
        if (dom) {
            virDomainFree(dom);
        }
    }
    for (size_t i = 0; i < n_have; i++) {
        const struct actual *x = &have[i];
        if (x->state == LV_FOREIGN) {
            continue;
        }
        bool wanted = false;
        for (size_t k = 0; k < n_want; k++) {
            wanted |= !strcmp(want[k].name, x->name);
        }
        if (wanted) {
            continue;
        }
        virDomainPtr dom = virDomainLookupByName(a->conn, x->name);
        if (!dom) {
            continue;
        }
        bool ok = true;
        if (x->state == LV_RUNNING) {
            crashpoint("libvirt-destroy");
            ok = check_rc(a, "destroy", x->name, virDomainDestroy(dom));
            crashpoint("libvirt-destroyed");
        }
        crashpoint("libvirt-undefine");
        ok = ok && check_rc(a, "undefine", x->name, virDomainUndefine(dom));
        crashpoint("libvirt-undefined");
        if (ok) {
            VNLOG_INFO("removed domain '%s' (chain '%s')", x->name, x->chain);
            clear_error(a, x->name);
            restart_forget(a, x->name);
        } else {
            failures++;
        }
        virDomainFree(dom);
        actions++;
    }
    for (size_t i = 0; i < a->n_errors; i++) {
        if (!a->errors[i].fresh) {
            a->errors[i].msg[0] = '\0';    /* its domain is gone or not wanted */
        }
    }
    *ret_progress = actions > failures;
    return actions;
}

static void
desired_free(struct desired_copy *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(d[i].name);
        free(d[i].xml);
        free(d[i].spec);
    }
    free(d);
}

static struct desired_copy *
desired_dup(const struct desired_copy *d, size_t n)
{
    struct desired_copy *c = vnet_xcalloc(n, sizeof *c);
    for (size_t i = 0; i < n; i++) {
        c[i].name = vnet_xstrdup(d[i].name);
        c[i].xml = vnet_xstrdup(d[i].xml);
        c[i].spec = vnet_xstrdup(d[i].spec);
        c[i].running = d[i].running;
        c[i].cputune = d[i].cputune;
    }
    return c;
}

static const struct status_entry *
find_status(const struct status_entry *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(list[i].name, name)) {
            return &list[i];
        }
    }
    return NULL;
}

/* Publishes what the worker saw -- every existing domain and every wanted one --
 * for the main thread, and wakes it if anything changed. */
static void
publish(struct libvirt_adapter *a, bool connected, const struct actual *have,
        size_t n_have, const struct desired_copy *want, size_t n_want, bool converged,
        uint64_t gen)
{
    uint64_t now = vnet_mono_ns();
    struct status_entry *st = vnet_xcalloc(n_have + n_want + 1, sizeof *st);
    size_t k = 0;
    for (size_t i = 0; i < n_have + n_want; i++) {
        const char *name = i < n_have ? have[i].name : want[i - n_have].name;
        if (find_status(st, k, name)) {
            continue;
        }
        struct status_entry *e = &st[k++];
        e->name = vnet_xstrdup(name);
        const struct actual *x = find_actual(have, n_have, name);
        e->chain = x && x->chain ? vnet_xstrdup(x->chain) : NULL;
        e->st.state = x ? x->state : LV_ABSENT;
        snprintf(e->st.spec, sizeof e->st.spec, "%s", x && x->spec ? x->spec : "");
        for (size_t w = 0; w < n_want; w++) {
            if (!strcmp(want[w].name, name) && x && x->spec) {
                e->st.current = !strcmp(want[w].spec, x->spec);
            }
        }
        const struct domain_error *err = find_error(a, name);
        if (err) {
            memcpy(e->st.error, err->msg, sizeof e->st.error);
        }
    }

    pthread_mutex_lock(&a->mutex);
    bool changed = connected != a->connected || k != a->n_status;
    for (size_t i = 0; i < k; i++) {
        const struct status_entry *old = find_status(a->status, a->n_status, st[i].name);
        if (old && old->st.state == st[i].st.state) {
            st[i].st.changed_ns = old->st.changed_ns;
        } else {
            st[i].st.changed_ns = now;
        }
        changed |= !old || old->st.state != st[i].st.state
                   || old->st.current != st[i].st.current
                   || strcmp(old->st.error, st[i].st.error);
    }
    for (size_t j = 0; j < a->n_status; j++) {
        free(a->status[j].name);
        free(a->status[j].chain);
    }
    free(a->status);
    a->status = st;
    a->n_status = k;
    a->connected = connected;
    a->status_gen = gen;
    bool conv = converged && gen == a->desired_gen;
    changed |= conv != a->converged;
    a->converged = conv;
    a->changed |= changed;
    pthread_mutex_unlock(&a->mutex);
    if (changed) {
        notify_main(a);
    }
}

static void
back_off(struct libvirt_adapter *a)
{
    a->backoff_ms = a->backoff_ms ? VNET_MIN(a->backoff_ms * 2, MAX_BACKOFF_MS) : 100;
}

static void *
worker_main(void *a_)
{
    struct libvirt_adapter *a = a_;
    for (;;) {
        pthread_mutex_lock(&a->mutex);
        if (!a->wake && !a->stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            unsigned int ms = (a->backoff_ms ? a->backoff_ms
                               : a->ghosts_pending ? GHOST_PASS_MS : PASS_INTERVAL_MS);
            ts.tv_sec += ms / 1000;
            ts.tv_nsec += (long) (ms % 1000) * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&a->cond, &a->mutex, &ts);
        }
        a->wake = false;
        if (a->stop) {
            pthread_mutex_unlock(&a->mutex);
            break;
        }
        bool desired_set = a->desired_set;
        uint64_t gen = a->desired_gen;
        size_t n_want = a->n_desired;
        struct desired_copy *want = desired_dup(a->desired, n_want);
        pthread_mutex_unlock(&a->mutex);

        if (a->conn && (a->conn_dead || !virConnectIsAlive(a->conn))) {
            VNLOG_WARN("lost connection to '%s'; reconnecting", a->uri);
            disconnect(a);
        }
        if (!a->conn && !connect_libvirt(a)) {
            back_off(a);
            publish(a, false, NULL, 0, want, n_want, false, gen);
            desired_free(want, n_want);
            continue;
        }

        /* What is published as "connected" is a complete listing: without one,
         * nothing is known of any VNode (and its ports are left as they are). */
        struct actual *have = NULL;
        size_t n_have = 0;
        bool converged = false;
        bool listed = list_actual(a, &have, &n_have);
        if (listed && desired_set) {
            bool progress;
            int actions = converge(a, want, n_want, have, n_have, &progress);
            if (actions) {
                actual_free(have, n_have);
                have = NULL;
                n_have = 0;
                listed = list_actual(a, &have, &n_have);
                /* Verify with a fresh pass at once; failures wait for the next
                 * periodic pass so a persistent error does not spin. */
                pthread_mutex_lock(&a->mutex);
                a->wake |= progress;
                pthread_mutex_unlock(&a->mutex);
            } else {
                converged = true;
                for (size_t i = 0; i < a->n_errors; i++) {
                    converged &= !a->errors[i].msg[0];
                }
            }
        }
        if (listed) {
            a->backoff_ms = 0;
        } else {
            back_off(a);    /* soon again, not after a whole pass interval */
        }
        publish(a, listed, have, n_have, want, n_want, converged && listed, gen);
        actual_free(have, n_have);
        desired_free(want, n_want);
    }
    disconnect(a);
    return NULL;
}

/* ---- main thread API ------------------------------------------------------- */

static void
register_event_impl(void)
{
    virSetErrorFunc(NULL, quiet_errors);
    if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0) {
        VNLOG_ERR("libvirt initialisation failed: %s", last_error());
    }
}

struct libvirt_adapter *
libvirt_adapter_create(const char *uri, const char *instance)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    struct libvirt_adapter *a = vnet_xzalloc(sizeof *a);
    a->uri = vnet_xstrdup(uri);
    a->instance = vnet_xstrdup(instance);
    a->cb_id = -1;
    a->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_mutex_init(&a->mutex, NULL);
    pthread_cond_init(&a->cond, NULL);

    pthread_once(&once, register_event_impl);
    pthread_create(&a->evloop, NULL, evloop_main, a);
    pthread_create(&a->worker, NULL, worker_main, a);
    return a;
}

void
libvirt_adapter_destroy(struct libvirt_adapter *a)
{
    if (!a) {
        return;
    }
    pthread_mutex_lock(&a->mutex);
    a->stop = true;
    pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->mutex);
    pthread_join(a->worker, NULL);
    virEventAddTimeout(0, wake_evloop, NULL, NULL);
    pthread_join(a->evloop, NULL);
    desired_free(a->desired, a->n_desired);
    for (size_t i = 0; i < a->n_status; i++) {
        free(a->status[i].name);
        free(a->status[i].chain);
    }
    free(a->status);
    for (size_t i = 0; i < a->n_errors; i++) {
        free(a->errors[i].name);
    }
    free(a->errors);
    for (size_t i = 0; i < a->n_restarts; i++) {
        free(a->restarts[i].name);
    }
    free(a->restarts);
    for (size_t i = 0; i < a->n_events; i++) {
        free(a->events[i]);
    }
    free(a->events);
    close(a->efd);
    pthread_mutex_destroy(&a->mutex);
    pthread_cond_destroy(&a->cond);
    free(a->uri);
    free(a->instance);
    free(a);
}

void
libvirt_adapter_set_desired(struct libvirt_adapter *a, const struct lv_desired *d,
                            size_t n)
{
    struct desired_copy *copy = vnet_xcalloc(n ? n : 1, sizeof *copy);
    for (size_t i = 0; i < n; i++) {
        copy[i].name = vnet_xstrdup(d[i].name);
        copy[i].xml = vnet_xstrdup(d[i].xml);
        copy[i].spec = vnet_xstrdup(d[i].spec);
        copy[i].running = d[i].running;
        copy[i].cputune = d[i].cputune;
    }
    pthread_mutex_lock(&a->mutex);
    bool same = a->desired_set && a->n_desired == n;
    for (size_t i = 0; same && i < n; i++) {
        same = !strcmp(a->desired[i].name, copy[i].name)
               && !strcmp(a->desired[i].spec, copy[i].spec)
               && a->desired[i].running == copy[i].running
               && !memcmp(&a->desired[i].cputune, &copy[i].cputune,
                          sizeof copy[i].cputune);
    }
    if (same) {
        pthread_mutex_unlock(&a->mutex);
        desired_free(copy, n);
        return;
    }
    desired_free(a->desired, a->n_desired);
    a->desired = copy;
    a->n_desired = n;
    a->desired_set = true;
    a->desired_gen++;
    a->converged = false;
    a->wake = true;
    pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->mutex);
}

bool
libvirt_adapter_run(struct libvirt_adapter *a)
{
    uint64_t count;
    ssize_t r = read(a->efd, &count, sizeof count);
    (void) r;
    pthread_mutex_lock(&a->mutex);
    char **events = a->events;
    size_t n = a->n_events;
    a->events = NULL;
    a->n_events = a->cap_events = 0;
    bool changed = a->changed;
    a->changed = false;
    pthread_mutex_unlock(&a->mutex);
    for (size_t i = 0; i < n; i++) {
        VNLOG_INFO("%s", events[i]);
        free(events[i]);
    }
    free(events);
    return changed || n;
}

void
libvirt_adapter_wait(struct libvirt_adapter *a)
{
    poll_fd_wait(a->efd, POLLIN);
}

bool
libvirt_adapter_connected(const struct libvirt_adapter *a_)
{
    struct libvirt_adapter *a = CONST_CAST(struct libvirt_adapter *, a_);
    pthread_mutex_lock(&a->mutex);
    bool c = a->connected;
    pthread_mutex_unlock(&a->mutex);
    return c;
}

bool
libvirt_adapter_converged(const struct libvirt_adapter *a_)
{
    struct libvirt_adapter *a = CONST_CAST(struct libvirt_adapter *, a_);
    pthread_mutex_lock(&a->mutex);
    bool c = a->converged;
    pthread_mutex_unlock(&a->mutex);
    return c;
}

bool
libvirt_adapter_up_to_date(const struct libvirt_adapter *a_)
{
    struct libvirt_adapter *a = CONST_CAST(struct libvirt_adapter *, a_);
    pthread_mutex_lock(&a->mutex);
    bool ok = a->desired_set && a->status_gen == a->desired_gen;
    pthread_mutex_unlock(&a->mutex);
    return ok;
}

void
libvirt_adapter_get_status(struct libvirt_adapter *a, const char *name,
                           struct lv_domain_status *ret)
{
    memset(ret, 0, sizeof *ret);
    ret->state = LV_ABSENT;
    pthread_mutex_lock(&a->mutex);
    for (size_t i = 0; i < a->n_status; i++) {
        if (!strcmp(a->status[i].name, name)) {
            *ret = a->status[i].st;
            break;
        }
    }
    /* Read with the state, under the same lock: the worker publishes both at
     * once, and a caller that read them apart could pair "connected" with the
     * "absent" of a listing published as libvirtd went away. */
    ret->known = a->connected;
    pthread_mutex_unlock(&a->mutex);
}

size_t
libvirt_adapter_n_owned(struct libvirt_adapter *a, const char *chain)
{
    size_t n = 0;
    pthread_mutex_lock(&a->mutex);
    for (size_t i = 0; i < a->n_status; i++) {
        const struct status_entry *e = &a->status[i];
        n += e->chain && !strcmp(e->chain, chain) && e->st.state != LV_ABSENT;
    }
    pthread_mutex_unlock(&a->mutex);
    return n;
}

const char *
libvirt_adapter_uri(const struct libvirt_adapter *a)
{
    return a->uri;
}
