/* clone.h -- shadow VNodes as libvirt XML rewrites of production VNodes.
 *
 * clone_domain_xml() takes a production VNode's definition and returns its shadow:
 * a new name, no UUID (libvirt assigns one), host-side veth names (and so OVS
 * ports) of its own, its own NF control socket, and vnet metadata saying
 * role="shadow".  The guest side is kept: same NIC names, MACs and addresses, so the
 * cloned NF accepts exactly the frames the production NF accepts.  Live state is not
 * copied (libvirt cannot clone a running LXC container beside the original): a
 * shadow starts from its configuration.
 *
 * The fix an operator tries on a shadow is made to the shadow's template; the
 * definition cloned is the one that template gives, so the vnet metadata's 'spec'
 * checksum (recomputed here) changes with every fix and the libvirt adapter
 * redefines the VNode; the CPU limits (<cputune>) are left out of it, so the limits
 * changing at a swap do not restart the VNode.  Pure: no I/O.
 *
 * Ownership: functions return malloc'd XML the caller frees. */
#ifndef SHADOW_CLONE_H
#define SHADOW_CLONE_H 1

#include <stddef.h>

struct vnet_error;

struct clone_spec {
    const char *name;               /* the shadow's domain name */
    const char *const *dev_from;    /* host-side interface renames */
    const char *const *dev_to;
    size_t n_devs;
    const char *const *arg_from;    /* init argument replacements (exact match) */
    const char *const *arg_to;
    size_t n_args;
    const char *role;               /* metadata role, e.g. "shadow" */
};

struct vnet_error *clone_domain_xml(const char *xml, const struct clone_spec *,
                                    char **ret_xml);

/* Returns the metadata 'spec' checksum of 'xml' as stored (caller frees), or NULL. */
char *clone_get_spec(const char *xml);

#endif
