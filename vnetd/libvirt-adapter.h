/* libvirt-adapter.h -- vnetd's view of libvirt: desired domains in, status out.
 *
 * The main loop never calls libvirt.  It hands the adapter the complete set of
 * domains it wants (name, definition, whether it should run); a worker thread that
 * owns the libvirt connection converges towards that set: defines what is missing,
 * redefines (and restarts) domains whose definition changed (the 'spec' checksum in
 * their vnet metadata, see domain-xml.h), starts and stops them, brings running
 * domains' CPU limits to the wanted ones without restarting them (a swap changes
 * them), and destroys and undefines domains that carry this vnetd's owner metadata
 * but are no longer wanted.
 * A domain without vnet metadata, or with another vnetd instance's, is never
 * touched, even if it has a wanted name (that is reported as a conflict).
 *
 * libvirt's event loop runs in a second thread; domain lifecycle events wake the
 * worker and are delivered to vnetd's loop (libvirt_adapter_run() drains them and
 * logs them).  The worker reconnects with backoff when libvirtd restarts (keepalive
 * and close callback detect it) and re-reads everything.
 *
 * Thread-safety: every public function is called from the main thread only. */
#ifndef VNETD_LIBVIRT_ADAPTER_H
#define VNETD_LIBVIRT_ADAPTER_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct libvirt_adapter;

/* CPU limits: libvirt's cpu_shares, vcpu_period and vcpu_quota scheduler
 * parameters (for an LXC domain they apply to the container's cgroup). */
struct lv_cputune {
    unsigned int shares;        /* 0: not managed */
    unsigned int period_us;
    int quota_us;               /* per period; -1: no cap */
};

struct lv_desired {
    const char *name;
    const char *xml;            /* full definition, with vnet metadata */
    const char *spec;           /* checksum of the definition (from its metadata) */
    bool running;
    struct lv_cputune cputune;  /* kept applied while it runs (live and in its
                                 * definition); the same values as in 'xml' */
};

enum lv_domain_state {
    LV_ABSENT,                  /* no such domain */
    LV_DEFINED,                 /* defined, not running */
    LV_RUNNING,
    LV_FOREIGN,                 /* exists but is not ours: never touched */
};

struct lv_domain_status {
    bool known;                 /* libvirt has answered: 'state' is what it said
                                 * (false while libvirtd is away: state ABSENT) */
    enum lv_domain_state state;
    bool current;               /* definition matches the desired spec */
    char spec[72];              /* the spec checksum of the existing definition */
    char error[256];            /* last failure acting on it, "" if none */
    uint64_t changed_ns;        /* when 'state' last changed (monotonic) */
};

/* Creates the adapter and starts its threads.  'uri' is a libvirt URI such as
 * "lxc:///system" or "lxc:///system?socket=/path"; 'instance' is this vnetd's
 * owner id (only domains with it are ever removed). */
struct libvirt_adapter *libvirt_adapter_create(const char *uri, const char *instance);
void libvirt_adapter_destroy(struct libvirt_adapter *);

/* Replaces the desired set (copied).  Until the first call the adapter only
 * observes, so a starting vnetd never removes anything before it has loaded its
 * registry. */
void libvirt_adapter_set_desired(struct libvirt_adapter *, const struct lv_desired *,
                                 size_t n);

/* Drains events and status changes; returns true if any status changed since the
 * last call (callers then re-evaluate their operations). */
bool libvirt_adapter_run(struct libvirt_adapter *);
void libvirt_adapter_wait(struct libvirt_adapter *);

bool libvirt_adapter_connected(const struct libvirt_adapter *);
/* True once the worker has applied the current desired set and found nothing left
 * to do (every wanted domain in its wanted state, no unwanted owned domain). */
bool libvirt_adapter_converged(const struct libvirt_adapter *);
/* True if the published status comes from a pass over the current desired set
 * (right after libvirt_adapter_set_desired() it still describes the old one). */
bool libvirt_adapter_up_to_date(const struct libvirt_adapter *);
/* Copies the status of domain 'name' (LV_ABSENT if unknown). */
void libvirt_adapter_get_status(struct libvirt_adapter *, const char *name,
                                struct lv_domain_status *ret);
/* Number of domains owned by this instance that exist now (for teardown checks). */
size_t libvirt_adapter_n_owned(struct libvirt_adapter *, const char *chain);
const char *libvirt_adapter_uri(const struct libvirt_adapter *);
const char *lv_domain_state_to_string(enum lv_domain_state);

#endif
