/* Tests vnetd/lxc-proc.c on a made-up /proc: a domain's controller is recognised
 * by its command line ("libvirt_lxc --name DOMAIN"), and a missing process, a
 * zombie (empty command line), another program at a reused pid, another domain's
 * controller and a name that only prefixes the domain's are not it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vnetd/lxc-proc.h"

static char root[64];

/* Writes '<root>/<pid>/cmdline' with the 'n' bytes of 'cmdline'. */
static void
process(unsigned int pid, const char *cmdline, size_t n)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%u", root, pid);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/%u/cmdline", root, pid);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(cmdline, 1, n, f), n);
    fclose(f);
}

#define PROCESS(pid, lit) process(pid, lit, sizeof lit - 1)

static void
test_controller(void **state)
{
    (void) state;
    snprintf(root, sizeof root, "/tmp/test-lxc-proc.XXXXXX");
    assert_non_null(mkdtemp(root));
    PROCESS(100, "/usr/lib/libvirt/libvirt_lxc\0--name\0vnet-c-nat\0--console\0"
                 "17\0--veth\0vnet1\0");
    PROCESS(101, "");                                   /* a zombie */
    PROCESS(102, "/usr/bin/sleep\0--name\0vnet-c-nat\0"); /* a reused pid */
    PROCESS(103, "/usr/lib/libvirt/libvirt_lxc\0--name\0vnet-c-fw\0");
    PROCESS(104, "libvirt_lxc\0--console\0--name\0vnet-c-nat\0");
    PROCESS(105, "/usr/lib/libvirt/libvirt_lxc\0--name\0");  /* no value */

    assert_true(lxc_proc_is_controller(root, 100, "vnet-c-nat"));
    assert_false(lxc_proc_is_controller(root, 100, "vnet-c-na"));
    assert_false(lxc_proc_is_controller(root, 100, "vnet-c-nat2"));
    assert_false(lxc_proc_is_controller(root, 101, "vnet-c-nat"));
    assert_false(lxc_proc_is_controller(root, 102, "vnet-c-nat"));
    assert_false(lxc_proc_is_controller(root, 103, "vnet-c-nat"));
    assert_true(lxc_proc_is_controller(root, 103, "vnet-c-fw"));
    assert_true(lxc_proc_is_controller(root, 104, "vnet-c-nat"));
    assert_false(lxc_proc_is_controller(root, 105, "vnet-c-nat"));
    assert_false(lxc_proc_is_controller(root, 106, "vnet-c-nat"));   /* none */
    assert_false(lxc_proc_is_controller(root, 0, "vnet-c-nat"));
    assert_false(lxc_proc_is_controller(root, (unsigned int) -1, "vnet-c-nat"));

    for (unsigned int pid = 100; pid <= 105; pid++) {
        char path[128];
        snprintf(path, sizeof path, "%s/%u/cmdline", root, pid);
        assert_int_equal(unlink(path), 0);
        snprintf(path, sizeof path, "%s/%u", root, pid);
        assert_int_equal(rmdir(path), 0);
    }
    assert_int_equal(rmdir(root), 0);
}

static void
test_read(void **state)
{
    (void) state;
    char buf[8];
    assert_int_equal(lxc_proc_read("/nonexistent/file", buf, sizeof buf), -1);
    ssize_t n = lxc_proc_read("/proc/self/cmdline", buf, sizeof buf);
    assert_true(n > 0 && n <= 7);
    assert_int_equal(buf[n], '\0');
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_controller),
        cmocka_unit_test(test_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
