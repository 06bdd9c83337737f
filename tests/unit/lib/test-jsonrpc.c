/* Tests lib/jsonrpc.c: framing survives partial reads, garbage, blank lines and
 * over-long lines; requests are validated. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "lib/error.h"
#include "lib/jsonrpc.h"
#include "lib/util.h"

static void
test_partial_reads(void **state)
{
    const char *msg = "{\"jsonrpc\":\"2.0\",\"method\":\"status\",\"id\":7}\n";
    struct jsonrpc_rx rx;
    jsonrpc_rx_init(&rx, 0);
    struct json_object *out = NULL;
    struct vnet_error *error = NULL;
    jsonrpc_rx_feed(&rx, "", 0);    /* a fresh receiver fed nothing */
    /* One byte at a time: nothing until the newline. */
    for (size_t i = 0; i < strlen(msg); i++) {
        assert_int_equal(jsonrpc_rx_next(&rx, &out, &error), JSONRPC_RX_AGAIN);
        jsonrpc_rx_feed(&rx, msg + i, 1);
    }
    assert_int_equal(jsonrpc_rx_next(&rx, &out, &error), JSONRPC_RX_MSG);
    assert_int_equal(json_object_get_int(json_object_object_get(out, "id")), 7);
    json_object_put(out);
    assert_int_equal(jsonrpc_rx_next(&rx, &out, &error), JSONRPC_RX_AGAIN);
    assert_int_equal(jsonrpc_rx_pending(&rx), 0);
    jsonrpc_rx_destroy(&rx);
}

static void
test_several_in_one_read(void **state)
{
    const char *text = "{\"a\":1}\n\r\n  \n[2]\n{\"c\":";
    struct jsonrpc_rx rx;
    jsonrpc_rx_init(&rx, 0);
    jsonrpc_rx_feed(&rx, text, strlen(text));
    struct json_object *out;
    struct vnet_error *error = NULL;
    assert_int_equal(jsonrpc_rx_next(&rx, &out, &error), JSONRPC_RX_MSG);
    json_object_put(out);
    assert_int_equal(jsonrpc_rx_next(&rx, &out, &error), JSONRPC_RX_MSG);
    assert_true(json_object_is_type(out, json_type_array));
    json_object_put(out);
    assert_int_equal(jsonrpc_rx_next(&rx, &out, &error), JSONRPC_RX_AGAIN);
    assert_int_equal(jsonrpc_rx_pending(&rx), 5);
    jsonrpc_rx_feed(&rx, "3}\n", 3);
    assert_int_equal(jsonrpc_rx_next(&rx, &out, &error), JSONRPC_RX_MSG);
    assert_int_equal(json_object_get_int(json_object_object_get(out, "c")), 3);
    json_object_put(out);
    jsonrpc_rx_destroy(&rx);
}

static void
test_garbage_then_good(void **state)
{
    static const char *const garbage[] = {
        "hello\n", "{\"a\":}\n", "{\"a\":1} trailing\n", "\x01\x02\xff\xfe\n",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]\n",
        "{\"a\":\"\\uZZZZ\"}\n", "nul\0byte\n",
    };
    struct jsonrpc_rx rx;
    jsonrpc_rx_init(&rx, 0);
    for (size_t i = 0; i < VNET_ARRAY_SIZE(garbage); i++) {
        size_t len = i == 6 ? 9 : strlen(garbage[i]);
        jsonrpc_rx_feed(&rx, garbage[i], len);
        struct json_object *out = NULL;
        struct vnet_error *error = NULL;
        assert_int_equal(jsonrpc_rx_next(&rx, &out, &error), JSONRPC_RX_ERROR);
        assert_non_null(error);
        assert_non_null(strstr(error->message, "invalid JSON"));
        vnet_error_destroy(error);
        /* The next line still parses: framing is intact. */
        jsonrpc_rx_feed(&rx, "{\"ok\":true}\n", 12);
        assert_int_equal(jsonrpc_rx_next(&rx, &out, &error), JSONRPC_RX_MSG);
        json_object_put(out);
    }
    jsonrpc_rx_destroy(&rx);
}

static void
test_oversized(void **state)
{
    struct jsonrpc_rx rx;
    jsonrpc_rx_init(&rx, 64);
    char big[200];
    memset(big, 'x', sizeof big);
    struct json_object *out = NULL;
    struct vnet_error *error = NULL;

    /* Over-long without a newline yet: reported once, then discarded up to '\n'. */
    jsonrpc_rx_feed(&rx, big, sizeof big);
    assert_int_equal(jsonrpc_rx_next(&rx, &out, &error), JSONRPC_RX_TOO_LONG);
    assert_string_equal(error->message, "message longer than 64 bytes");
    vnet_error_destroy(error);
    jsonrpc_rx_feed(&rx, big, sizeof big);
    assert_int_equal(jsonrpc_rx_next(&rx, &out, &error), JSONRPC_RX_AGAIN);
    assert_int_equal(jsonrpc_rx_pending(&rx), 0);   /* memory stays bounded */
    jsonrpc_rx_feed(&rx, "xx\n{\"a\":1}\n", 11);
    assert_int_equal(jsonrpc_rx_next(&rx, &out, &error), JSONRPC_RX_MSG);
    json_object_put(out);

    /* Over-long with its newline in the same read. */
    char line[100];
    memset(line, ' ', sizeof line);
    line[0] = '1';
    line[99] = '\n';
    jsonrpc_rx_feed(&rx, line, sizeof line);
    assert_int_equal(jsonrpc_rx_next(&rx, &out, &error), JSONRPC_RX_TOO_LONG);
    vnet_error_destroy(error);
    jsonrpc_rx_feed(&rx, "2\n", 2);
    assert_int_equal(jsonrpc_rx_next(&rx, &out, &error), JSONRPC_RX_MSG);
    assert_int_equal(json_object_get_int(out), 2);
    json_object_put(out);
    jsonrpc_rx_destroy(&rx);
}

static struct vnet_error *
parse_request_text(const char *text)
{
    struct json_object *msg = json_tokener_parse(text);
    const char *method;
    struct json_object *params, *id;
    struct vnet_error *error = jsonrpc_parse_request(msg, &method, &params, &id);
    json_object_put(msg);
    return error;
}

static void
test_request_validation(void **state)
{
    static const struct { const char *text, *error; } cases[] = {
        { "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":1}", NULL },
        { "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":{},\"id\":\"a\"}", NULL },
        { "{\"jsonrpc\":\"2.0\",\"method\":\"x\"}", NULL },
        { "{\"method\":\"x\",\"id\":1}", "$.jsonrpc: required field is missing" },
        { "{\"jsonrpc\":\"1.0\",\"method\":\"x\",\"id\":1}", "$.jsonrpc: expected \"2.0\"" },
        { "{\"jsonrpc\":\"2.0\",\"method\":5,\"id\":1}",
          "$.method: expected a string, got 5" },
        { "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":3,\"id\":1}",
          "$.params: expected an object or an array, got 3" },
        { "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":{}}",
          "$.id: expected a number or a string, got an object" },
        { "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":1,\"x\":1}",
          "$.x: unknown field (expected one of: jsonrpc, method, params, id)" },
        { "[1,2]", "$: expected an object, got an array of 2" },
    };
    for (size_t i = 0; i < VNET_ARRAY_SIZE(cases); i++) {
        struct vnet_error *error = parse_request_text(cases[i].text);
        if (!cases[i].error) {
            assert_null(error);
        } else {
            assert_non_null(error);
            assert_string_equal(error->message, cases[i].error);
            vnet_error_destroy(error);
        }
    }
}

static void
test_serialize_one_line(void **state)
{
    struct json_object *result = json_object_new_object();
    json_object_object_add(result, "text", json_object_new_string("a\nb\n"));
    struct json_object *id = json_object_new_int(3);
    struct json_object *msg = jsonrpc_result(id, result);
    json_object_put(id);
    size_t len;
    char *line = jsonrpc_serialize(msg, &len);
    assert_int_equal(line[len - 1], '\n');
    assert_null(memchr(line, '\n', len - 1));
    free(line);
    json_object_put(msg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partial_reads),
        cmocka_unit_test(test_several_in_one_read),
        cmocka_unit_test(test_garbage_then_good),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_request_validation),
        cmocka_unit_test(test_serialize_one_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
