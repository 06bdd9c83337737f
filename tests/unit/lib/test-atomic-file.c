/* Tests lib/atomic-file.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/atomic-file.h"
#include "lib/util.h"

static void
test_write_replace(void **state)
{
    char dir[] = "/tmp/vnet-test-atomic-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *sub = vnet_xasprintf("%s/a/b/c", dir);
    assert_int_equal(vnet_mkdir_p(sub, 0700), 0);
    assert_int_equal(vnet_mkdir_p(sub, 0700), 0);     /* idempotent */
    char *path = vnet_xasprintf("%s/file", sub);

    assert_int_equal(vnet_atomic_write(path, "one", 3, 0600), 0);
    assert_int_equal(vnet_atomic_write(path, "second", 6, 0600), 0);
    char *data;
    size_t len;
    assert_int_equal(vnet_read_file(path, 100, &data, &len), 0);
    assert_int_equal(len, 6);
    assert_string_equal(data, "second");
    free(data);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char *tmp = vnet_xasprintf("%s.tmp", path);
    assert_int_equal(access(tmp, F_OK), -1);           /* no temp file left behind */

    assert_int_equal(vnet_read_file(path, 3, &data, &len), -EFBIG);
    assert_int_equal(vnet_atomic_write("/nonexistent-dir/x", "a", 1, 0600), -ENOENT);

    unlink(path);
    char *cmd_dirs[] = { sub, NULL };
    for (int i = 0; i < 3; i++) {
        rmdir(cmd_dirs[0]);
        char *slash = strrchr(cmd_dirs[0], '/');
        *slash = '\0';
    }
    rmdir(dir);
    free(tmp);
    free(path);
    free(sub);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_replace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
