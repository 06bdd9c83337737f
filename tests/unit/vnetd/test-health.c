/* Tests vnetd/health.c: a VNet's changes of health become events with the time
 * of the change, a new reason while degraded keeps 'since', kept VNets keep their
 * state, unreported VNets are forgotten, and the event list is bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <string.h>

#include "vnetd/health.h"

static struct json_object *
get(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    assert_true(json_object_object_get_ex(o, key, &v));
    return v;
}

static void
test_transitions(void **state)
{
    struct health *h = health_create();
    health_begin(h);
    health_report(h, "c", "production", NULL, 1000);
    health_report(h, "c", "monitoring", NULL, 1000);
    health_end(h);

    health_begin(h);
    health_report(h, "c", "production", NULL, 2000);
    health_report(h, "c", "monitoring", "VNode 'monitor' is not running", 2100);
    health_end(h);
    health_begin(h);
    health_report(h, "c", "production", NULL, 2200);
    health_report(h, "c", "monitoring", "port 'x' is pending", 2300);
    health_end(h);
    assert_string_equal(health_problem(h, "c", "monitoring"), "port 'x' is pending");
    assert_null(health_problem(h, "c", "production"));

    struct json_object *j = health_to_json(h);
    struct json_object *vnets = get(j, "vnets"), *events = get(j, "events");
    assert_int_equal(json_object_array_length(vnets), 2);
    struct json_object *m = json_object_array_get_idx(vnets, 1);
    assert_string_equal(json_object_get_string(get(m, "state")), "degraded");
    assert_int_equal(json_object_get_int64(get(m, "since_ms")), 2100);
    assert_int_equal(json_object_array_length(events), 2);
    assert_int_equal(json_object_get_int64(get(json_object_array_get_idx(events, 0),
                                               "time_ms")), 2100);
    json_object_put(j);

    /* Busy: kept as it is, even if not reported. */
    health_begin(h);
    health_keep(h, "c", "monitoring");
    health_report(h, "c", "production", NULL, 2400);
    health_end(h);
    assert_non_null(health_problem(h, "c", "monitoring"));

    /* Healthy again: an "ok" event at the time it recovered. */
    health_begin(h);
    health_report(h, "c", "monitoring", NULL, 3000);
    health_end(h);
    j = health_to_json(h);
    events = get(j, "events");
    assert_int_equal(json_object_array_length(events), 3);
    struct json_object *last = json_object_array_get_idx(events, 2);
    assert_string_equal(json_object_get_string(get(last, "state")), "ok");
    assert_int_equal(json_object_get_int64(get(last, "time_ms")), 3000);
    /* Production was not reported in the last pass: forgotten. */
    assert_int_equal(json_object_array_length(get(j, "vnets")), 1);
    json_object_put(j);
    health_destroy(h);
}

static void
test_events_bounded(void **state)
{
    struct health *h = health_create();
    for (int i = 0; i < 3 * HEALTH_EVENTS; i++) {
        health_begin(h);
        health_report(h, "c", "shadow", i % 2 ? NULL : "down", i);
        health_end(h);
    }
    struct json_object *j = health_to_json(h);
    struct json_object *events = get(j, "events");
    assert_int_equal(json_object_array_length(events), HEALTH_EVENTS);
    /* Oldest first, and the newest is the last change. */
    int64_t first = json_object_get_int64(get(json_object_array_get_idx(events, 0),
                                              "time_ms"));
    int64_t newest = json_object_get_int64(get(json_object_array_get_idx(
        events, HEALTH_EVENTS - 1), "time_ms"));
    assert_int_equal(newest, 3 * HEALTH_EVENTS - 1);
    assert_int_equal(first, 2 * HEALTH_EVENTS);
    json_object_put(j);
    health_destroy(h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transitions),
        cmocka_unit_test(test_events_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
