/* domain-xml.h -- libvirt domain XML for VNodes, built and read with libxml2.
 *
 * domain_xml_build() loads a base document (templates/domains/lxc.xml) and sets the
 * VNode's name, memory, vCPUs (and optional cpuset), init argv, NICs and the owner
 * metadata through the DOM: no value is ever pasted into XML text, so a name or an
 * argument cannot change the document's structure.
 *
 * The owner metadata is one element in vnet's namespace:
 *     <metadata><vnet:vnode xmlns:vnet="https://vnet.dev/xmlns/vnode/1"
 *        instance="..." chain="fw-nat-vpn" node="fw" role="nf" spec="crc"/></metadata>
 * 'instance' identifies the vnetd whose registry owns the domain (two daemons
 * sharing a libvirtd never touch each other's domains); 'spec' is a checksum of
 * everything else in the definition, so a changed VNode is detected and redefined,
 * except the CPU limits (<cputune>: shares, period, quota, from the VNode plan):
 * they change with the VNode's role at a swap, and the libvirt adapter applies them
 * to the running VNode instead of restarting it.
 *
 * Ownership: returned strings are malloc'd; the caller frees them. */
#ifndef VNETD_DOMAIN_XML_H
#define VNETD_DOMAIN_XML_H 1

#include <stdint.h>

struct vnode_plan;
struct vnet_error;

#define VNET_XML_NS "https://vnet.dev/xmlns/vnode/1"
#define VNET_XML_PREFIX "vnet"

struct vnode_owner {
    char *instance;
    char *chain;
    char *node;
    char *role;
    char *spec;
};

/* Builds the definition of 'vnode' from the base document at 'base_path'.
 * 'cpuset' (e.g. "1" or "0-1") pins the VNode's CPUs when not NULL.  Also returns
 * the definition's 'spec' checksum. */
struct vnet_error *domain_xml_build(const char *base_path, const struct vnode_plan *,
                                    const char *instance, const char *chain,
                                    const char *cpuset, char **ret_xml,
                                    char **ret_spec);

/* Returns 'xml' with its <uuid> set to 'uuid' (libvirt redefines an existing domain
 * only under its own UUID), or NULL if 'xml' does not parse.  Caller frees. */
char *domain_xml_with_uuid(const char *xml, const char *uuid);

/* CPU limits as a domain definition states them (<cputune>); 0 where absent. */
struct domain_cputune {
    unsigned long long shares;
    unsigned long long period_us;
    long long quota_us;         /* <= 0: no cap */
};

/* Reads <cputune> from a domain definition (virDomainGetXMLDesc()).  Returns 0, or
 * -EINVAL if 'xml' is not a domain definition or a value is not a number. */
int domain_xml_parse_cputune(const char *xml, struct domain_cputune *ret);

/* Parses the metadata element returned by virDomainGetMetadata().  Returns 0 and
 * fills '*ret' (free with vnode_owner_clear()), or -EINVAL if it is not vnet's. */
int domain_xml_parse_owner(const char *metadata_xml, struct vnode_owner *ret);
void vnode_owner_clear(struct vnode_owner *);

#endif
