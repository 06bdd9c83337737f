/* Tests lib/log.c: levels per module, rejected specs, per-call-site rate limits,
 * control characters escaped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"

VNLOG_DEFINE_THIS_MODULE(testlog);

static int n_lines;
static char last[512];
static uint64_t fake_now;

static void
sink(const char *line, void *aux)
{
    n_lines++;
    vnet_strlcpy(last, line, sizeof last);
}

static uint64_t
fake_clock(void)
{
    return fake_now;
}

static int
setup(void **state)
{
    vnlog_set_sink(sink, NULL);
    vnlog_set_clock(fake_clock);
    n_lines = 0;
    return 0;
}

static void
test_levels(void **state)
{
    assert_null(vnlog_set_levels("testlog:warn"));
    VNLOG_INFO("hidden");
    assert_int_equal(n_lines, 0);
    VNLOG_WARN("shown %d", 42);
    assert_int_equal(n_lines, 1);
    assert_non_null(strstr(last, "|testlog|warn|shown 42\n"));
    assert_null(vnlog_set_levels("dbg"));
    VNLOG_DBG("debug now");
    assert_int_equal(n_lines, 2);
    assert_null(vnlog_set_levels("ANY:info, testlog:off"));
    VNLOG_ERR("off means off");
    assert_int_equal(n_lines, 2);

    struct json_object *levels = vnlog_levels_to_json();
    assert_string_equal(json_object_get_string(json_object_object_get(levels, "testlog")),
                        "off");
    json_object_put(levels);
}

static void
test_bad_specs(void **state)
{
    assert_null(vnlog_set_levels("testlog:info"));
    char *msg = vnlog_set_levels("testlog:dbg,nosuch:info");
    assert_string_equal(msg, "'nosuch': unknown log module");
    free(msg);
    msg = vnlog_set_levels("testlog:loud");
    assert_string_equal(msg, "'loud': unknown log level (expected off, err, warn, info "
                        "or dbg)");
    free(msg);
    msg = vnlog_set_levels(" , ");
    assert_string_equal(msg, "empty log level specification");
    free(msg);
    /* A rejected spec changes nothing, not even its valid items. */
    VNLOG_DBG("still at info");
    assert_int_equal(n_lines, 0);
}

static void
test_rate_limit(void **state)
{
    static struct vnlog_rl rl = VNLOG_RL_INIT(60, 5);   /* 1 per second, burst 5 */
    assert_null(vnlog_set_levels("testlog:info"));
    fake_now = 1000000000ull;
    for (int i = 0; i < 20; i++) {
        VNLOG_WARN_RL(&rl, "flood %d", i);
    }
    assert_int_equal(n_lines, 5);
    fake_now += 3000000000ull;             /* three tokens back */
    for (int i = 0; i < 20; i++) {
        VNLOG_WARN_RL(&rl, "flood again %d", i);
    }
    assert_int_equal(n_lines, 8);
    assert_non_null(strstr(last, "flood again 2"));
    fake_now += 1000000000ull;
    VNLOG_WARN_RL(&rl, "after");
    assert_int_equal(n_lines, 9);
    assert_non_null(strstr(last, "after (17 similar messages suppressed)"));
}

/* A user string cannot forge a log line of its own. */
static void
test_controls_escaped(void **state)
{
    assert_null(vnlog_set_levels("testlog:info"));
    VNLOG_INFO("loaded '%s'",
               "a.json\n2026-01-01T00:00:00.000Z|00001|vnetd|info|forged\r\x1b[2J");
    assert_int_equal(n_lines, 1);
    assert_non_null(strstr(last, "|testlog|info|loaded 'a.json\\x0a2026-01-01T00:00:00"
                           ".000Z|00001|vnetd|info|forged\\x0d\\x1b[2J'\n"));
    assert_ptr_equal(strchr(last, '\n'), last + strlen(last) - 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_levels, setup),
        cmocka_unit_test_setup(test_bad_specs, setup),
        cmocka_unit_test_setup(test_rate_limit, setup),
        cmocka_unit_test_setup(test_controls_escaped, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
