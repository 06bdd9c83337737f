/* Tests vnetd/libvirt-adapter.c when libvirt misbehaves, with some libvirt calls
 * replaced by link-time wrapping (-Wl,--wrap, see tests/unit/CMakeLists.txt) and
 * everything else libvirt's test:///default driver.
 *
 * 1. A partial domain listing is never published as known.  libvirtd stopping in
 *    the middle of a pass answers the per-domain calls with errors; a VNode whose
 *    state was guessed from such an error counted as stopped, and vnetd unplugged a
 *    running production VNode from its switch until libvirtd was back (3 s of
 *    traffic lost in a CI run of test-faults).  Checked on every view while the
 *    calls fail: if the adapter says it is connected, the running VNode is
 *    reported running.
 * 2. The CPU limits of a domain that stops right after it starts are checked
 *    without virDomainGetSchedulerParametersFlags(): libvirt 9.0's LXC driver
 *    dereferences the stopped domain's (NULL) cgroup there and libvirtd segfaults
 *    (seen in CI's crash matrix; reproduced with 'virsh schedinfo' on any
 *    defined, stopped LXC domain).  The wrapper plays libvirtd: that call on an
 *    inactive domain fails the test.  Such a domain is started again at once only
 *    twice; then with a delay, and its status says why.
 * 3. A domain libvirt reports running after its container's controller is gone
 *    (libvirt 9.0 LXC misses the end of a container whose init exits before
 *    libvirtd has connected to its controller; test-chain's NF that exits at once
 *    then waited out the 120 s timeout in CI) is destroyed after a grace period
 *    and counts as a stop -- but only once a live controller has proven that
 *    libvirtd's pids are visible here.  The wrappers play the LXC driver: the
 *    connection's type is "LXC" and a domain's id is a controller's pid, a fake
 *    one (this program, re-executed as "libvirt_lxc --name dom-a") or one that
 *    does not exist. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <cmocka.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/util.h"
#include "vnetd/chain-plan.h"
#include "vnetd/domain-xml.h"
#include "vnetd/libvirt-adapter.h"
#include "vnetd/lxc-proc.h"

enum fault { FAULT_NONE, FAULT_METADATA, FAULT_STATE };
static _Atomic int fault = FAULT_NONE;

char *__real_virDomainGetMetadata(virDomainPtr, int, const char *, unsigned int);
char *__wrap_virDomainGetMetadata(virDomainPtr, int, const char *, unsigned int);
int __real_virDomainGetState(virDomainPtr, int *, int *, unsigned int);
int __wrap_virDomainGetState(virDomainPtr, int *, int *, unsigned int);
int __real_virGetLastErrorCode(void);
int __wrap_virGetLastErrorCode(void);
int __real_virDomainCreate(virDomainPtr);
int __wrap_virDomainCreate(virDomainPtr);
int __real_virDomainGetSchedulerParametersFlags(virDomainPtr, virTypedParameterPtr,
                                                int *, unsigned int);
int __wrap_virDomainGetSchedulerParametersFlags(virDomainPtr, virTypedParameterPtr,
                                                int *, unsigned int);

const char *__real_virConnectGetType(virConnectPtr);
const char *__wrap_virConnectGetType(virConnectPtr);
unsigned int __real_virDomainGetID(virDomainPtr);
unsigned int __wrap_virDomainGetID(virDomainPtr);

static _Atomic int stop_at_start;       /* domains stop as soon as they start */
static _Atomic int creates;             /* virDomainCreate() calls */
static _Atomic int creates_g;           /* ... of "dom-g" */
static _Atomic int lxc_mode;            /* play libvirt's LXC driver */
static _Atomic unsigned int ctl_a;      /* pid of dom-a's (fake) controller */
static _Atomic unsigned int ctl_g;      /* pid given as dom-g's controller */
static _Atomic int sched_on_inactive;   /* calls that crash libvirt 9.0's libvirtd */

char *
__wrap_virDomainGetMetadata(virDomainPtr d, int type, const char *uri, unsigned int flags)
{
    return fault == FAULT_METADATA ? NULL
                                   : __real_virDomainGetMetadata(d, type, uri, flags);
}

int
__wrap_virDomainGetState(virDomainPtr d, int *state, int *reason, unsigned int flags)
{
    return fault == FAULT_STATE ? -1 : __real_virDomainGetState(d, state, reason, flags);
}

int
__wrap_virGetLastErrorCode(void)
{
    /* What a call on a connection whose daemon is going away reports. */
    return fault != FAULT_NONE ? VIR_ERR_RPC : __real_virGetLastErrorCode();
}

int
__wrap_virDomainCreate(virDomainPtr d)
{
    creates++;
    creates_g += !strcmp(virDomainGetName(d), "dom-g");
    int rc = __real_virDomainCreate(d);
    if (rc == 0 && stop_at_start) {
        virDomainDestroy(d);    /* its init exited at once */
    }
    return rc;
}

int
__wrap_virDomainGetSchedulerParametersFlags(virDomainPtr d, virTypedParameterPtr params,
                                            int *n, unsigned int flags)
{
    /* The LXC driver's virDomainGetSchedulerType() says 3 parameters for an
     * inactive domain, and reading them then segfaults libvirtd 9.0. */
    if (virDomainIsActive(d) == 0) {
        sched_on_inactive++;
    }
    return __real_virDomainGetSchedulerParametersFlags(d, params, n, flags);
}

const char *
__wrap_virConnectGetType(virConnectPtr conn)
{
    return lxc_mode ? "LXC" : __real_virConnectGetType(conn);
}

unsigned int
__wrap_virDomainGetID(virDomainPtr d)
{
    const char *name = virDomainGetName(d);
    return (!lxc_mode ? __real_virDomainGetID(d)
            : !strcmp(name, "dom-a") ? ctl_a : !strcmp(name, "dom-g") ? ctl_g
            : __real_virDomainGetID(d));
}

static char *argv_init[] = { "/bin/init" };

static void
build(const char *name, const char *node, unsigned int shares, char **xml, char **spec)
{
    struct vnode_plan v = {
        .domain = (char *) name, .node = (char *) node, .role = VNODE_ROLE_NF,
        .cpus = 1, .memory_mib = 64, .argv = argv_init, .argc = 1, .cpu_shares = shares,
    };
    char *base = vnet_xasprintf("%s/templates/domains/lxc.xml", VNET_SOURCE_DIR);
    assert_null(domain_xml_build(base, &v, "me", "c1", NULL, xml, spec));
    free(base);
}

/* Wants nothing, waits until the adapter has removed it all, and frees. */
static void
remove_all(struct libvirt_adapter *a, char *xml, char *spec)
{
    libvirt_adapter_set_desired(a, NULL, 0);
    for (int i = 0; i < 500 && !libvirt_adapter_converged(a); i++) {
        libvirt_adapter_run(a);
        usleep(10000);
    }
    assert_true(libvirt_adapter_converged(a));
    libvirt_adapter_destroy(a);
    free(xml);
    free(spec);
}

/* Runs the adapter's main-thread side for up to 'ms', checking the invariant on
 * every view; returns once the adapter is (dis)connected as 'want_connected' says
 * and, if connected, reports 'dom' running. */
static bool
watch(struct libvirt_adapter *a, const char *dom, bool want_connected, int ms)
{
    for (int t = 0; t < ms; t += 5) {
        libvirt_adapter_run(a);
        bool c1 = libvirt_adapter_connected(a);
        struct lv_domain_status st;
        libvirt_adapter_get_status(a, dom, &st);
        bool c2 = libvirt_adapter_connected(a);
        if (c1 && c2 && fault != FAULT_NONE && st.state != LV_RUNNING) {
            /* A view published during the fault claims to know it stopped. */
            fail_msg("connected during a failing listing, '%s' reported %s",
                     dom, lv_domain_state_to_string(st.state));
        }
        if (c1 == want_connected && c2 == want_connected
            && (!want_connected || st.state == LV_RUNNING)) {
            return true;
        }
        usleep(5000);
    }
    return false;
}

static void
test_partial_listing_is_not_published(void **state)
{
    (void) state;
    char *xml, *spec;
    build("dom-l", "l", 0, &xml, &spec);

    struct libvirt_adapter *a = libvirt_adapter_create("test:///default", "me");
    struct lv_desired want[] = { { "dom-l", xml, spec, true, { 0, 0, 0 } } };
    libvirt_adapter_set_desired(a, want, 1);
    assert_true(watch(a, "dom-l", true, 5000));

    for (int f = FAULT_METADATA; f <= FAULT_STATE; f++) {
        fault = f;
        libvirt_adapter_set_desired(a, want, 1);    /* a new pass at once */
        assert_true(watch(a, "dom-l", false, 5000));
        fault = FAULT_NONE;
        /* Back within the adapter's retry back-off, not a whole pass interval. */
        assert_true(watch(a, "dom-l", true, 1500));
    }

    remove_all(a, xml, spec);
}

static void
test_cpu_limits_of_a_stopping_domain(void **state)
{
    (void) state;
    char *xml, *spec;
    build("dom-s", "s", 512, &xml, &spec);

    struct libvirt_adapter *a = libvirt_adapter_create("test:///default", "me");
    stop_at_start = 1;
    creates = 0;
    struct lv_desired want[] = { { "dom-s", xml, spec, true, { 512, 0, 0 } } };
    libvirt_adapter_set_desired(a, want, 1);
    /* Started and stopped at once, three times in a row; then held back. */
    struct lv_domain_status st = { 0 };
    for (int i = 0; i < 300 && !st.error[0]; i++) {
        libvirt_adapter_run(a);
        libvirt_adapter_get_status(a, "dom-s", &st);
        usleep(10000);
    }
    assert_non_null(strstr(st.error, "stopped on its own soon after each of its last 3"));
    assert_int_equal(creates, 3);
    for (int i = 0; i < 50; i++) {      /* within the first 1 s delay */
        libvirt_adapter_run(a);
        usleep(10000);
    }
    assert_int_equal(creates, 3);
    assert_int_equal(sched_on_inactive, 0);
    libvirt_adapter_get_status(a, "dom-s", &st);
    assert_int_not_equal(st.state, LV_RUNNING);
    assert_false(libvirt_adapter_converged(a));

    stop_at_start = 0;
    remove_all(a, xml, spec);
}

/* A pid no process has: the kernel hands out pids below pid_max. */
static unsigned int
unused_pid(void)
{
    FILE *f = fopen("/proc/sys/kernel/pid_max", "r");
    unsigned int max = 0;
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%u", &max), 1);
    fclose(f);
    return max;
}

/* Runs this program again as "libvirt_lxc --name DOMAIN" (see main()). */
static pid_t
fake_controller(const char *domain)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (!pid) {
        char *argv[] = { "/usr/lib/libvirt/libvirt_lxc", "--name", (char *) domain,
                         NULL };
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {     /* until it has exec'd: what vnetd checks */
        if (lxc_proc_is_controller("/proc", (unsigned int) pid, domain)) {
            return pid;
        }
        usleep(10000);
    }
    fail_msg("the fake controller did not start");
    return -1;
}

static struct lv_domain_status
status_after(struct libvirt_adapter *a, const char *dom, int ms)
{
    struct lv_domain_status st;
    for (int t = 0; t < ms; t += 10) {
        libvirt_adapter_run(a);
        usleep(10000);
    }
    libvirt_adapter_get_status(a, dom, &st);
    return st;
}

static void
test_a_running_domain_without_controller(void **state)
{
    (void) state;
    char *xml_g, *spec_g, *xml_a, *spec_a;
    build("dom-g", "g", 0, &xml_g, &spec_g);
    build("dom-a", "a", 0, &xml_a, &spec_a);
    lxc_mode = 1;
    creates_g = 0;
    ctl_g = unused_pid();
    pid_t fake = fake_controller("dom-a");
    ctl_a = (unsigned int) fake;

    /* No controller seen yet: nothing shows that libvirtd's pids are ours to
     * look at, so dom-g's missing controller is no evidence. */
    struct libvirt_adapter *a = libvirt_adapter_create("test:///default", "me");
    struct lv_desired want[] = {
        { "dom-g", xml_g, spec_g, true, { 0, 0, 0 } },
        { "dom-a", xml_a, spec_a, true, { 0, 0, 0 } },
    };
    libvirt_adapter_set_desired(a, want, 1);
    struct lv_domain_status st = status_after(a, "dom-g", 3500);
    assert_int_equal(st.state, LV_RUNNING);
    assert_int_equal(creates_g, 1);
    assert_string_equal(st.error, "");

    /* dom-a's controller proves it: dom-g, running without one, is destroyed
     * after the grace period and started again, twice; then it is a VNode that
     * stops soon after each start. */
    libvirt_adapter_set_desired(a, want, 2);
    struct lv_domain_status st_a = status_after(a, "dom-a", 500);
    assert_int_equal(st_a.state, LV_RUNNING);
    for (int i = 0; i < 1500 && !st.error[0]; i++) {
        st = status_after(a, "dom-g", 10);
    }
    assert_non_null(strstr(st.error, "stopped on its own soon after each of its last 3"));
    assert_int_equal(creates_g, 3);
    assert_int_not_equal(st.state, LV_RUNNING);
    /* The VNode with a live controller was never touched. */
    struct lv_domain_status st_a2;
    libvirt_adapter_get_status(a, "dom-a", &st_a2);
    assert_int_equal(st_a2.state, LV_RUNNING);
    assert_true(st_a2.changed_ns == st_a.changed_ns);

    remove_all(a, xml_g, spec_g);
    free(xml_a);
    free(spec_a);
    kill(fake, SIGKILL);
    waitpid(fake, NULL, 0);
    lxc_mode = 0;
}

int
main(int argc, char *argv[])
{
    if (argc == 3 && !strcmp(argv[1], "--name")) {
        for (;;) {              /* a fake LXC controller; killed by the test */
            pause();
        }
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partial_listing_is_not_published),
        cmocka_unit_test(test_cpu_limits_of_a_stopping_domain),
        cmocka_unit_test(test_a_running_domain_without_controller),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
