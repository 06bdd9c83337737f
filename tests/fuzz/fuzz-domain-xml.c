/* fuzz-domain-xml.c -- libvirt domain XML rewriting: shadow/clone.c
 * (clone_domain_xml(), clone_get_spec()) and vnetd/domain-xml.c
 * (domain_xml_with_uuid(), domain_xml_parse_owner(), domain_xml_parse_cputune()).
 *
 * Input: an XML document (a domain definition or the vnet metadata element
 * libvirt returns; the seeds hold both).  Every function runs on it, as a C
 * string.  The clone renames two, one or no host-side interfaces (by the input's
 * size modulo 3), as chain-runtime.c clones NF VNodes.
 *
 * Checked, besides memory safety and leaks: a clone has the new name; its spec
 * checksum does not depend on the metadata (the role); it is a domain definition
 * again, which clones back to production's names; domain_xml_with_uuid() puts the
 * UUID in; the owner's fields are all set or all NULL; CPU limits read are
 * either all there or an error, never negative shares. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/error.h"
#include "shadow/clone.h"
#include "tests/fuzz/fuzz.h"
#include "vnetd/domain-xml.h"

static const char *const dev_prod[] = { "vn000001-01i", "vn000001-01o" };
static const char *const dev_shadow[] = { "vn000001-s01i", "vn000001-s01o" };
static const char *const arg_prod[] = { "/run/vnet/nf/c-nat.ctl",
                                        "/run/vnet/nf/fw-nat-vpn-nat.ctl" };
static const char *const arg_shadow[] = { "/run/vnet/nf/c-nat-shadow.ctl",
                                          "/run/vnet/nf/fw-nat-vpn-nat-1.ctl" };
#define UUID "0e2e8b2c-6a61-4f0a-9c33-2ad2a0a0b0c1"

static void
check_clone(const char *xml, size_t n_devs)
{
    struct clone_spec spec = {
        .name = "vnet-c-nat-shadow", .dev_from = dev_prod, .dev_to = dev_shadow,
        .n_devs = n_devs, .arg_from = arg_prod, .arg_to = arg_shadow, .n_args = 2,
        .role = "shadow",
    };
    char *clone;
    struct vnet_error *error = clone_domain_xml(xml, &spec, &clone);
    if (error) {
        vnet_error_destroy(error);
        return;
    }
    fuzz_check(strstr(clone, ">vnet-c-nat-shadow</") != NULL, "a clone has its name");

    /* The role is metadata: the checksum of the definition stays. */
    char *other;
    spec.role = "nf";
    fuzz_check(!clone_domain_xml(xml, &spec, &other), "cloning is deterministic");
    char *spec1 = clone_get_spec(clone), *spec2 = clone_get_spec(other);
    fuzz_check(!spec1 == !spec2 && (!spec1 || !strcmp(spec1, spec2)),
               "the checksum covers the definition, not the metadata");

    /* A clone is a definition that clones back to production's names. */
    struct clone_spec back = {
        .name = "vnet-c-nat", .dev_from = dev_shadow, .dev_to = dev_prod,
        .n_devs = n_devs, .arg_from = arg_shadow, .arg_to = arg_prod, .n_args = 2,
    };
    char *round;
    fuzz_check(!clone_domain_xml(clone, &back, &round), "a clone clones back");
    free(spec1);
    free(spec2);
    free(round);
    free(other);
    free(clone);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *xml = fuzz_strndup(data, size);
    check_clone(xml, 2 - size % 3);
    free(clone_get_spec(xml));

    char *with = domain_xml_with_uuid(xml, UUID);
    if (with) {
        fuzz_check(strstr(with, "<uuid>" UUID "</uuid>") != NULL, "the UUID is set");
        free(with);
    }

    struct vnode_owner owner;
    int err = domain_xml_parse_owner(xml, &owner);
    fuzz_check(err == 0 || err == -EINVAL, "owner: 0 or -EINVAL");
    if (!err) {
        fuzz_check(owner.instance && owner.chain && owner.node && owner.role
                   && owner.spec, "owner: every field");
    } else {
        fuzz_check(!owner.instance && !owner.chain && !owner.node && !owner.role
                   && !owner.spec, "owner: nothing on failure");
    }
    vnode_owner_clear(&owner);

    struct domain_cputune tune;
    err = domain_xml_parse_cputune(xml, &tune);
    fuzz_check(err == 0 || err == -EINVAL, "cputune: 0 or -EINVAL");
    fuzz_check(err == 0 || (!tune.shares && !tune.period_us && !tune.quota_us),
               "cputune: nothing on failure");
    fuzz_check((long long) tune.shares >= 0 && (long long) tune.period_us >= 0,
               "cputune: shares and period are not negative");
    free(xml);
    return 0;
}
