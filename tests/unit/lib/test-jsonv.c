/* Tests lib/jsonv.c: paths and messages of the JSON accessors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "lib/error.h"
#include "lib/jsonv.h"

static void
test_paths(void **state)
{
    struct jpath root = JPATH_ROOT;
    struct jpath a = JPATH_KEY(&root, "nodes");
    struct jpath b = JPATH_INDEX(&a, 3);
    struct jpath c = JPATH_KEY(&b, "nf");
    char *s = jpath_to_string(&c);
    assert_string_equal(s, "$.nodes[3].nf");
    free(s);
    s = jpath_to_string(&root);
    assert_string_equal(s, "$");
    free(s);
}

static void
test_accessors(void **state)
{
    struct json_object *obj = json_tokener_parse(
        "{\"s\":\"x\",\"i\":5,\"d\":2.5,\"b\":true,\"a\":[1,2],\"big\":"
        "\"0123456789012345678901234567890123456789012345\"}");
    struct jpath root = JPATH_ROOT;
    const char *s = "unset";
    int64_t i = -1;
    double d = 0;
    bool b = false;
    struct json_object *a = NULL;
    assert_null(jv_get_string(obj, &root, "s", true, &s));
    assert_string_equal(s, "x");
    assert_null(jv_get_string(obj, &root, "missing", false, &s));
    assert_string_equal(s, "x");              /* untouched when absent */
    assert_null(jv_get_int(obj, &root, "i", true, 0, 10, &i));
    assert_int_equal(i, 5);
    assert_null(jv_get_double(obj, &root, "i", true, 0, 10, &d));
    assert_true(d == 5.0);
    assert_null(jv_get_double(obj, &root, "d", true, 0, 10, &d));
    assert_true(d == 2.5);
    assert_null(jv_get_bool(obj, &root, "b", true, &b));
    assert_true(b);
    assert_null(jv_get_array(obj, &root, "a", true, 1, 2, &a));
    assert_int_equal(json_object_array_length(a), 2);

    struct vnet_error *e = jv_get_int(obj, &root, "i", true, 6, 10, &i);
    assert_string_equal(e->message, "$.i: expected integer 6..10, got 5");
    vnet_error_destroy(e);
    e = jv_get_int(obj, &root, "d", true, 0, 10, &i);
    assert_string_equal(e->message, "$.d: expected integer 0..10, got 2.5");
    vnet_error_destroy(e);
    e = jv_get_bool(obj, &root, "s", true, &b);
    assert_string_equal(e->message, "$.s: expected true or false, got \"x\"");
    vnet_error_destroy(e);
    e = jv_get_array(obj, &root, "a", true, 3, 3, &a);
    assert_string_equal(e->message, "$.a: expected an array of 3, got an array of 2");
    vnet_error_destroy(e);
    e = jv_get_name(obj, &root, "big", true, &s);
    assert_string_equal(e->message, "$.big: expected a name matching "
                        "[a-z0-9][a-z0-9-]{0,23}, got \"0123456789012345678901234567890"
                        "12345...");
    vnet_error_destroy(e);
    e = jv_get_string(obj, &root, "nope", true, &s);
    assert_string_equal(e->message, "$.nope: required field is missing");
    vnet_error_destroy(e);
    json_object_put(obj);
}

static void
test_parse_depth_limit(void **state)
{
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    struct json_object *obj = NULL;
    struct vnet_error *e = jv_parse(deep, sizeof deep, &obj);
    assert_non_null(e);
    assert_non_null(strstr(e->message, "invalid JSON"));
    vnet_error_destroy(e);
    assert_null(jv_parse("  {\"a\": [1]}\n ", 14, &obj));
    json_object_put(obj);
    assert_null(jv_parse("42", 2, &obj));
    assert_int_equal(json_object_get_int(obj), 42);
    json_object_put(obj);
}

/* The text is 'len' bytes, not a C string: a document of blanks alone, with no
 * NUL after it, is an empty document (found by tests/fuzz/fuzz-chain-template). */
static void
test_parse_unterminated(void **state)
{
    char *blanks = malloc(3);
    memcpy(blanks, " \n\t", 3);
    struct json_object *obj = NULL;
    struct vnet_error *e = jv_parse(blanks, 3, &obj);
    assert_non_null(e);
    assert_string_equal(e->message, "invalid JSON at line 2, column 2: empty document");
    vnet_error_destroy(e);
    memcpy(blanks, "7 x", 3);
    assert_null(jv_parse(blanks, 1, &obj));
    assert_int_equal(json_object_get_int(obj), 7);
    json_object_put(obj);
    free(blanks);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_accessors),
        cmocka_unit_test(test_parse_depth_limit),
        cmocka_unit_test(test_parse_unterminated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
