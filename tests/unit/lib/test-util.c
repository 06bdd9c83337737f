/* Tests lib/util.c and lib/names.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crc32c.h"
#include "lib/names.h"
#include "lib/util.h"

static void
test_parse_uint(void **state)
{
    unsigned long long v = 99;
    assert_int_equal(vnet_parse_uint("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(vnet_parse_uint("101", 0, 100, &v), -ERANGE);
    assert_int_equal(vnet_parse_uint("-1", 0, 100, &v), -EINVAL);
    assert_int_equal(vnet_parse_uint("4x", 0, 100, &v), -EINVAL);
    assert_int_equal(vnet_parse_uint("", 0, 100, &v), -EINVAL);
    assert_int_equal(vnet_parse_uint("99999999999999999999999", 0, ~0ull, &v), -ERANGE);
    assert_int_equal(v, 42);
}

static void
test_parse_duration(void **state)
{
    uint64_t ns = 0;
    assert_int_equal(vnet_parse_duration("5s", &ns), 0);
    assert_int_equal(ns, 5000000000ull);
    assert_int_equal(vnet_parse_duration("250ms", &ns), 0);
    assert_int_equal(ns, 250000000ull);
    assert_int_equal(vnet_parse_duration("1.5", &ns), 0);
    assert_int_equal(ns, 1500000000ull);
    assert_int_equal(vnet_parse_duration("2m", &ns), 0);
    assert_int_equal(ns, 120000000000ull);
    assert_int_equal(vnet_parse_duration("10us", &ns), 0);
    assert_int_equal(ns, 10000ull);
    assert_int_equal(vnet_parse_duration("5 s", &ns), -EINVAL);
    assert_int_equal(vnet_parse_duration("5h", &ns), -EINVAL);
    assert_int_equal(vnet_parse_duration("-1s", &ns), -EINVAL);
    assert_int_equal(vnet_parse_duration("s", &ns), -EINVAL);
}

static void
test_names(void **state)
{
    assert_true(vnet_name_valid("fw"));
    assert_true(vnet_name_valid("0"));
    assert_true(vnet_name_valid("fw-nat-vpn"));
    assert_true(vnet_name_valid("abcdefghijklmnopqrstuvwx"));
    assert_false(vnet_name_valid("abcdefghijklmnopqrstuvwxy"));
    assert_false(vnet_name_valid(""));
    assert_false(vnet_name_valid(NULL));
    assert_false(vnet_name_valid("-fw"));
    assert_false(vnet_name_valid("Fw"));
    assert_false(vnet_name_valid("fw_1"));
    assert_false(vnet_name_valid("fw.1"));
    assert_false(vnet_name_valid("../etc"));
    assert_false(vnet_name_valid("a b"));
    assert_false(vnet_name_valid("a;b"));
}

static void
test_grow_and_strings(void **state)
{
    int *a = NULL;
    size_t cap = 0;
    for (int i = 0; i < 1000; i++) {
        vnet_grow((void **) &a, &cap, (size_t) i + 1, sizeof *a);
        a[i] = i;
    }
    assert_true(cap >= 1000);
    assert_int_equal(a[999], 999);
    free(a);

    char buf[4];
    assert_true(vnet_strlcpy(buf, "abc", sizeof buf));
    assert_false(vnet_strlcpy(buf, "abcd", sizeof buf));
    assert_string_equal(buf, "abc");
    char *s = vnet_xasprintf("%s-%d", "x", 7);
    assert_string_equal(s, "x-7");
    free(s);
    assert_string_equal(vnet_basename("/a/b/c.json"), "c.json");
    assert_string_equal(vnet_basename("c.json"), "c.json");
}

static void
test_crc32c(void **state)
{
    /* The standard check value of CRC-32C. */
    assert_int_equal(vnet_crc32c(0, "123456789", 9), 0xE3069283);
    /* Incremental equals one-shot. */
    uint32_t crc = vnet_crc32c(0, "1234", 4);
    assert_int_equal(vnet_crc32c(crc, "56789", 5), 0xE3069283);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_uint),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_grow_and_strings),
        cmocka_unit_test(test_crc32c),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
