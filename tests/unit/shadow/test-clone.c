/* Tests shadow/clone.c: a shadow keeps the guest side and gets its own name, host
 * ports and control socket; edits change the spec checksum, CPU limits do not;
 * libvirt's test driver accepts production and shadow side by side. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <libvirt/libvirt.h>
#include <stdlib.h>
#include <string.h>

#include "lib/error.h"
#include "shadow/clone.h"

static const char *const prod_xml =
    "<domain type='lxc'>\n"
    "  <name>vnet-c-nat</name>\n"
    "  <uuid>0e2e8b2c-6a61-4f0a-9c33-2ad2a0a0b0c1</uuid>\n"
    "  <memory unit='MiB'>128</memory>\n"
    "  <vcpu placement='static'>1</vcpu>\n"
    "  <os><type>exe</type><init>/libexec/vnet-vnode-init</init>\n"
    "    <initarg>--</initarg><initarg>/bin/vnet-nf</initarg>\n"
    "    <initarg>--control</initarg><initarg>/run/vnet/nf/c-nat.ctl</initarg></os>\n"
    "  <devices>\n"
    "    <interface type='ethernet'><mac address='02:00:00:01:01:00'/>\n"
    "      <target dev='vn000001-01i'/><guest dev='eth0'/>\n"
    "      <ip address='169.254.1.1' prefix='30'/></interface>\n"
    "    <interface type='ethernet'><mac address='02:00:00:01:01:01'/>\n"
    "      <target dev='vn000001-01o'/><guest dev='eth1'/>\n"
    "      <ip address='169.254.2.1' prefix='30'/></interface>\n"
    "  </devices>\n"
    "  <metadata><vnet:vnode xmlns:vnet='https://vnet.dev/xmlns/vnode/1' instance='i' "
    "chain='c' node='nat' role='nf' spec='00000000'/></metadata>\n"
    "</domain>\n";

static const char *const from[] = { "vn000001-01i", "vn000001-01o" };
static const char *const to[] = { "vn000001-s01i", "vn000001-s01o" };
static const char *const arg_from[] = { "/run/vnet/nf/c-nat.ctl" };
static const char *const arg_to[] = { "/run/vnet/nf/c-nat-shadow.ctl" };

static char *
make_clone(void)
{
    struct clone_spec spec = {
        .name = "vnet-c-nat-shadow", .dev_from = from, .dev_to = to, .n_devs = 2,
        .arg_from = arg_from, .arg_to = arg_to, .n_args = 1, .role = "shadow",
    };
    char *xml;
    struct vnet_error *error = clone_domain_xml(prod_xml, &spec, &xml);
    if (error) {
        fail_msg("%s", error->message);
    }
    return xml;
}

static void
test_clone(void **state)
{
    char *xml = make_clone();
    assert_non_null(strstr(xml, "<name>vnet-c-nat-shadow</name>"));
    assert_null(strstr(xml, "<uuid>"));
    assert_non_null(strstr(xml, "<target dev=\"vn000001-s01i\"/>"));
    assert_non_null(strstr(xml, "<target dev=\"vn000001-s01o\"/>"));
    assert_null(strstr(xml, "\"vn000001-01i\""));
    /* The guest side is untouched. */
    assert_non_null(strstr(xml, "<mac address=\"02:00:00:01:01:00\"/>"));
    assert_non_null(strstr(xml, "<guest dev=\"eth1\"/>"));
    assert_non_null(strstr(xml, "<ip address=\"169.254.2.1\""));
    assert_non_null(strstr(xml, "<initarg>/run/vnet/nf/c-nat-shadow.ctl</initarg>"));
    assert_non_null(strstr(xml, "role=\"shadow\""));
    char *spec = clone_get_spec(xml);
    assert_non_null(spec);
    assert_string_not_equal(spec, "00000000");

    /* Both can be defined side by side. */
    virConnectPtr conn = virConnectOpen("test:///default");
    virDomainPtr a = virDomainDefineXML(conn, prod_xml);
    virDomainPtr b = virDomainDefineXML(conn, xml);
    assert_non_null(a);
    assert_non_null(b);
    virDomainUndefine(a);
    virDomainUndefine(b);
    virDomainFree(a);
    virDomainFree(b);
    virConnectClose(conn);
    free(spec);
    free(xml);
}

/* Returns 'text' with the first 'old' replaced by 'new' (caller frees). */
static char *
replace_first(const char *text, const char *old, const char *new)
{
    const char *at = strstr(text, old);
    assert_non_null(at);
    size_t head = (size_t) (at - text), n = strlen(text) - strlen(old) + strlen(new);
    char *out = malloc(n + 1);
    assert_non_null(out);
    memcpy(out, text, head);
    memcpy(out + head, new, strlen(new));
    memcpy(out + head + strlen(new), at + strlen(old), strlen(at + strlen(old)) + 1);
    return out;
}

static void
test_spec_follows_content(void **state)
{
    char *xml = make_clone();
    char *s0 = clone_get_spec(xml);
    /* Cloning the same definition again gives the same spec; a different source
     * definition (another init argument) a different one. */
    char *again = make_clone();
    char *s1 = clone_get_spec(again);
    assert_string_equal(s0, s1);
    struct clone_spec spec = {
        .name = "vnet-c-nat-shadow", .dev_from = from, .dev_to = to, .n_devs = 2,
        .arg_from = arg_from, .arg_to = arg_to, .n_args = 1, .role = "shadow",
    };
    char *changed_src = strdup(prod_xml);
    char *p = strstr(changed_src, "/bin/vnet-nf");
    p[5] = 'X';
    char *other;
    assert_null(clone_domain_xml(changed_src, &spec, &other));
    char *s2 = clone_get_spec(other);
    assert_string_not_equal(s0, s2);
    /* CPU limits are not part of it (they change at a swap and are applied live);
     * the clone keeps them. */
    const char *tuned_src = "<cputune><shares>256</shares><period>100000</period>"
                            "<quota>50000</quota></cputune><devices>";
    char *tuned = replace_first(prod_xml, "<devices>", tuned_src);
    char *tuned_clone;
    assert_null(clone_domain_xml(tuned, &spec, &tuned_clone));
    char *s3 = clone_get_spec(tuned_clone);
    assert_string_equal(s0, s3);
    assert_non_null(strstr(tuned_clone, "<quota>50000</quota>"));
    free(s0); free(s1); free(s2); free(s3);
    free(xml); free(again); free(other); free(changed_src); free(tuned);
    free(tuned_clone);
}

static void
test_errors(void **state)
{
    struct clone_spec spec = { .name = "x", .dev_from = from, .dev_to = to, .n_devs = 1 };
    char *xml;
    struct vnet_error *e = clone_domain_xml(prod_xml, &spec, &xml);
    assert_non_null(e);
    assert_string_equal(e->message, "interface 'vn000001-01o' has no shadow name");
    vnet_error_destroy(e);
    e = clone_domain_xml("<not-a-domain/>", &spec, &xml);
    assert_non_null(e);
    vnet_error_destroy(e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clone),
        cmocka_unit_test(test_spec_follows_content),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
