/* Tests vnetd/domain-xml.c against libvirt's in-process test driver: the generated
 * definition is accepted, keeps its vnet metadata through libvirt, escapes every
 * value (an argument cannot change the document), and the spec checksum moves with
 * the definition. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <libvirt/libvirt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/error.h"
#include "lib/util.h"
#include "vnetd/chain-plan.h"
#include "vnetd/domain-xml.h"

static char *argv_sample[] = { "/bin/init", "--tx-off", "--", "/bin/nf",
                               "</initarg><devices><disk/>", "a&b\"c'd" };

static struct vnode_nic sample_nic;

static struct vnode_plan
sample_vnode(void)
{
    struct vnode_plan v = {
        .nics = &sample_nic,
        .domain = "vnet-test-fw", .node = "fw", .role = VNODE_ROLE_NF,
        .kind = VNODE_LXC, .cpus = 2, .memory_mib = 64,
        .argv = argv_sample, .argc = VNET_ARRAY_SIZE(argv_sample), .n_nics = 1,
    };
    snprintf(v.nics[0].ifname, sizeof v.nics[0].ifname, "vn000001-00i");
    snprintf(v.nics[0].guest, sizeof v.nics[0].guest, "eth0");
    memcpy(v.nics[0].mac, (uint8_t[]) { 2, 0, 0, 0, 1, 0 }, 6);
    v.nics[0].ip = 0xa9fe0101;
    v.nics[0].prefix_len = 30;
    return v;
}

static char *
base_path(void)
{
    return vnet_xasprintf("%s/templates/domains/lxc.xml", VNET_SOURCE_DIR);
}

static void
test_build_and_define(void **state)
{
    struct vnode_plan v = sample_vnode();
    char *base = base_path(), *xml, *spec;
    assert_null(domain_xml_build(base, &v, "inst1", "test", "1", &xml, &spec));
    assert_int_equal(strlen(spec), 8);
    /* The dangerous argument is text, not markup. */
    assert_non_null(strstr(xml, "&lt;/initarg&gt;&lt;devices&gt;&lt;disk/&gt;"));

    virConnectPtr conn = virConnectOpen("test:///default");
    assert_non_null(conn);
    virDomainPtr dom = virDomainDefineXML(conn, xml);
    assert_non_null(dom);
    char *md = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, VNET_XML_NS,
                                    VIR_DOMAIN_AFFECT_CONFIG);
    assert_non_null(md);
    struct vnode_owner owner;
    assert_int_equal(domain_xml_parse_owner(md, &owner), 0);
    assert_string_equal(owner.instance, "inst1");
    assert_string_equal(owner.chain, "test");
    assert_string_equal(owner.node, "fw");
    assert_string_equal(owner.role, "nf");
    assert_string_equal(owner.spec, spec);
    vnode_owner_clear(&owner);
    free(md);

    /* libvirt kept every argument verbatim, in order. */
    char *desc = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
    assert_non_null(strstr(desc, "<initarg>a&amp;b&quot;c&apos;d</initarg>"));
    assert_non_null(strstr(desc, "<target dev='vn000001-00i'/>"));
    assert_non_null(strstr(desc, "cpuset='1'"));
    free(desc);
    virDomainUndefine(dom);
    virDomainFree(dom);
    virConnectClose(conn);
    free(xml);
    free(spec);
    free(base);
}

static void
test_spec_tracks_definition(void **state)
{
    struct vnode_plan v = sample_vnode();
    char *base = base_path(), *xml1, *spec1, *xml2, *spec2, *xml3, *spec3;
    assert_null(domain_xml_build(base, &v, "i", "c", NULL, &xml1, &spec1));
    assert_null(domain_xml_build(base, &v, "i", "c", NULL, &xml2, &spec2));
    assert_string_equal(spec1, spec2);                  /* deterministic */
    v.memory_mib = 128;
    assert_null(domain_xml_build(base, &v, "i", "c", NULL, &xml3, &spec3));
    assert_string_not_equal(spec1, spec3);              /* any change shows */
    free(xml1);
    free(spec1);
    free(xml2);
    free(spec2);
    free(xml3);
    free(spec3);
    free(base);
}

/* CPU limits become <cputune>, which libvirt accepts; they stay out of the spec,
 * so a swap that changes a VNode's limits does not restart it. */
static void
test_cpu_limits(void **state)
{
    struct vnode_plan v = sample_vnode();
    char *base = base_path(), *plain, *plain_spec, *capped, *capped_spec, *prod,
         *prod_spec;
    assert_null(domain_xml_build(base, &v, "i", "c", NULL, &plain, &plain_spec));
    assert_null(strstr(plain, "cputune"));
    v.cpu_shares = 256;
    v.cpu_period_us = 100000;
    v.cpu_quota_us = 50000;
    assert_null(domain_xml_build(base, &v, "i", "c", NULL, &capped, &capped_spec));
    v.cpu_shares = 1024;
    v.cpu_quota_us = -1;
    assert_null(domain_xml_build(base, &v, "i", "c", NULL, &prod, &prod_spec));
    assert_string_equal(plain_spec, capped_spec);
    assert_string_equal(plain_spec, prod_spec);
    assert_null(strstr(prod, "<quota>"));
    assert_non_null(strstr(prod, "<shares>1024</shares>"));

    virConnectPtr conn = virConnectOpen("test:///default");
    assert_non_null(conn);
    virDomainPtr dom = virDomainDefineXML(conn, capped);
    assert_non_null(dom);
    char *desc = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
    assert_non_null(strstr(desc, "<shares>256</shares>"));
    assert_non_null(strstr(desc, "<period>100000</period>"));
    assert_non_null(strstr(desc, "<quota>50000</quota>"));
    /* ... and read back from what libvirt returns (how vnetd checks them). */
    struct domain_cputune t;
    assert_int_equal(domain_xml_parse_cputune(desc, &t), 0);
    assert_int_equal(t.shares, 256);
    assert_int_equal(t.period_us, 100000);
    assert_int_equal(t.quota_us, 50000);
    free(desc);
    assert_int_equal(domain_xml_parse_cputune(plain, &t), 0);
    assert_int_equal(t.shares, 0);
    assert_int_equal(t.quota_us, 0);
    assert_int_equal(domain_xml_parse_cputune(prod, &t), 0);
    assert_int_equal(t.shares, 1024);
    assert_int_equal(t.quota_us, 0);
    virDomainUndefine(dom);
    virDomainFree(dom);
    virConnectClose(conn);
    free(plain);
    free(plain_spec);
    free(capped);
    free(capped_spec);
    free(prod);
    free(prod_spec);
    free(base);
}

static void
test_parse_cputune_rejects_bad(void **state)
{
    struct domain_cputune t;
    assert_int_equal(domain_xml_parse_cputune(
                         "<domain><cputune><quota>-1</quota></cputune></domain>", &t), 0);
    assert_int_equal(t.quota_us, -1);
    assert_int_equal(domain_xml_parse_cputune("not xml", &t), -EINVAL);
    assert_int_equal(domain_xml_parse_cputune("<other/>", &t), -EINVAL);
    assert_int_equal(domain_xml_parse_cputune(
                         "<domain><cputune><shares>lots</shares></cputune></domain>", &t),
                     -EINVAL);
    assert_int_equal(domain_xml_parse_cputune(
                         "<domain><cputune><shares>-5</shares></cputune></domain>", &t),
                     -EINVAL);
    assert_int_equal(domain_xml_parse_cputune(
                         "<domain><cputune><period>99999999999999999999</period>"
                         "</cputune></domain>", &t), -EINVAL);
}

static void
test_parse_owner_rejects_foreign(void **state)
{
    struct vnode_owner o;
    assert_int_equal(domain_xml_parse_owner("<other a='b'/>", &o), -EINVAL);
    assert_int_equal(domain_xml_parse_owner("<vnode chain='x'/>", &o), -EINVAL);
    assert_int_equal(domain_xml_parse_owner("not xml", &o), -EINVAL);
    assert_int_equal(domain_xml_parse_owner(
                         "<v:vnode xmlns:v='https://elsewhere/' instance='i' chain='c' "
                         "node='n' role='r' spec='s'/>", &o), -EINVAL);
}

static void
test_bad_base(void **state)
{
    struct vnode_plan v = sample_vnode();
    char *xml, *spec;
    struct vnet_error *e = domain_xml_build("/nonexistent.xml", &v, "i", "c", NULL, &xml,
                                            &spec);
    assert_non_null(e);
    assert_string_equal(e->message, "/nonexistent.xml: not a libvirt domain XML "
                        "document");
    vnet_error_destroy(e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_and_define),
        cmocka_unit_test(test_spec_tracks_definition),
        cmocka_unit_test(test_cpu_limits),
        cmocka_unit_test(test_parse_cputune_rejects_bad),
        cmocka_unit_test(test_parse_owner_rejects_foreign),
        cmocka_unit_test(test_bad_base),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
