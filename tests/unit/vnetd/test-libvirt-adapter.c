/* Tests vnetd/libvirt-adapter.c against libvirt's test:///default driver: it
 * converges to the desired domains, redefines a changed one, removes only what
 * this instance owns, never touches a foreign domain, and reports CPU limits it
 * cannot apply. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <cmocka.h>
#include <libvirt/libvirt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "vnetd/chain-plan.h"
#include "vnetd/domain-xml.h"
#include "vnetd/libvirt-adapter.h"

static char *argv_init[] = { "/bin/init" };

static void
build(const char *name, const char *node, const char *instance, unsigned int mem,
      char **xml, char **spec)
{
    struct vnode_plan v = {
        .domain = (char *) name, .node = (char *) node, .role = VNODE_ROLE_NF,
        .cpus = 1, .memory_mib = mem, .argv = argv_init, .argc = 1,
    };
    char *base = vnet_xasprintf("%s/templates/domains/lxc.xml", VNET_SOURCE_DIR);
    assert_null(domain_xml_build(base, &v, instance, "c1", NULL, xml, spec));
    free(base);
}

static bool
wait_converged(struct libvirt_adapter *a)
{
    for (int i = 0; i < 500; i++) {
        libvirt_adapter_run(a);
        if (libvirt_adapter_converged(a)) {
            return true;
        }
        usleep(10000);
    }
    return false;
}

static _Atomic int conflict_lines;

static void
count_conflicts(const char *line, void *aux)
{
    (void) aux;
    conflict_lines += strstr(line, "not owned by this vnetd") != NULL;
}

static void
test_converge_and_ownership(void **state)
{
    /* The test driver is shared by every connection of this process. */
    virConnectPtr conn = virConnectOpen("test:///default");
    assert_non_null(conn);
    char *fx, *fs;
    build("foreign-dom", "x", "someone-else", 64, &fx, &fs);
    virDomainPtr foreign = virDomainDefineXML(conn, fx);
    assert_non_null(foreign);

    struct libvirt_adapter *a = libvirt_adapter_create("test:///default", "me");
    char *x1, *s1, *x2, *s2;
    build("dom-a", "a", "me", 64, &x1, &s1);
    build("foreign-dom", "x", "me", 64, &x2, &s2);
    struct lv_desired want[] = { { "dom-a", x1, s1, true, { 0, 0, 0 } } };
    libvirt_adapter_set_desired(a, want, 1);
    assert_true(wait_converged(a));
    assert_true(libvirt_adapter_connected(a));

    struct lv_domain_status st;
    libvirt_adapter_get_status(a, "dom-a", &st);
    assert_int_equal(st.state, LV_RUNNING);
    assert_true(st.current);
    libvirt_adapter_get_status(a, "foreign-dom", &st);
    assert_int_equal(st.state, LV_FOREIGN);
    assert_int_equal(libvirt_adapter_n_owned(a, "c1"), 1);

    /* A changed definition is applied (redefine + restart). */
    char *x3, *s3;
    build("dom-a", "a", "me", 96, &x3, &s3);
    struct lv_desired want2[] = { { "dom-a", x3, s3, true, { 0, 0, 0 } } };
    libvirt_adapter_set_desired(a, want2, 1);
    assert_true(wait_converged(a));
    virDomainPtr d = virDomainLookupByName(conn, "dom-a");
    assert_int_equal(virDomainGetMaxMemory(d), 96 * 1024);
    virDomainFree(d);

    /* Wanting a name a foreign domain holds is a reported conflict, not a takeover. */
    struct lv_desired want3[] = { { "dom-a", x3, s3, true, { 0, 0, 0 } },
                                  { "foreign-dom", x2, s2, true, { 0, 0, 0 } } };
    libvirt_adapter_set_desired(a, want3, 2);
    for (int i = 0; i < 100; i++) {
        libvirt_adapter_run(a);
        libvirt_adapter_get_status(a, "foreign-dom", &st);
        if (st.error[0]) {
            break;
        }
        usleep(10000);
    }
    assert_non_null(strstr(st.error, "not owned by this vnetd"));
    assert_false(libvirt_adapter_converged(a));

    /* The conflict persists through further passes; it was logged when it
     * appeared, not again at every pass ('status' shows it meanwhile). */
    conflict_lines = 0;
    vnlog_set_sink(count_conflicts, NULL);
    struct lv_desired swapped[] = { want3[1], want3[0] };
    for (int pass = 0; pass < 6; pass++) {
        /* A changed desired set (here: its order) makes a new pass at once. */
        libvirt_adapter_set_desired(a, pass % 2 ? want3 : swapped, 2);
        for (int i = 0; i < 10; i++) {
            libvirt_adapter_run(a);
            usleep(10000);
        }
    }
    vnlog_set_sink(NULL, NULL);
    libvirt_adapter_get_status(a, "foreign-dom", &st);
    assert_non_null(strstr(st.error, "not owned by this vnetd"));
    assert_int_equal(conflict_lines, 0);

    /* Nothing wanted: ours is removed, the foreign one stays. */
    libvirt_adapter_set_desired(a, NULL, 0);
    assert_true(wait_converged(a));
    assert_null(virDomainLookupByName(conn, "dom-a"));
    d = virDomainLookupByName(conn, "foreign-dom");
    assert_non_null(d);
    virDomainFree(d);
    assert_int_equal(libvirt_adapter_n_owned(a, "c1"), 0);

    libvirt_adapter_destroy(a);
    virDomainUndefine(foreign);
    virDomainFree(foreign);
    virConnectClose(conn);
    free(fx); free(fs); free(x1); free(s1); free(x2); free(s2); free(x3); free(s3);
}

/* Wanted CPU limits are checked on the running domain; the test driver cannot read
 * them live, which is reported on the domain (a real driver applies them, see
 * tests/integration/test-isolation.sh). */
static void
test_cpu_limits_failure_reported(void **state)
{
    struct libvirt_adapter *a = libvirt_adapter_create("test:///default", "me");
    char *x, *s;
    build("dom-cpu", "cpu", "me", 64, &x, &s);
    struct lv_desired want[] = { { "dom-cpu", x, s, true, { 256, 100000, 50000 } } };
    libvirt_adapter_set_desired(a, want, 1);
    struct lv_domain_status st = { 0 };
    for (int i = 0; i < 300 && !st.error[0]; i++) {
        libvirt_adapter_run(a);
        libvirt_adapter_get_status(a, "dom-cpu", &st);
        usleep(10000);
    }
    assert_int_equal(st.state, LV_RUNNING);
    assert_non_null(strstr(st.error, "CPU limits"));
    assert_false(libvirt_adapter_converged(a));
    libvirt_adapter_set_desired(a, NULL, 0);
    assert_true(wait_converged(a));
    libvirt_adapter_destroy(a);
    free(x);
    free(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_converge_and_ownership),
        cmocka_unit_test(test_cpu_limits_failure_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
