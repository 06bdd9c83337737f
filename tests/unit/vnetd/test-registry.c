/* Tests vnetd/registry.c: ordering, conflicts, and the JSON round trip that the
 * state file relies on (including rejection of invalid stored templates). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "lib/chain-template.h"
#include "lib/error.h"
#include "lib/util.h"
#include "vnetd/registry.h"

static struct chain_template *
template_named(const char *name)
{
    char *path = vnet_xasprintf("%s/templates/chains/fw-nat-vpn.json", VNET_SOURCE_DIR);
    struct json_object *obj = json_object_from_file(path);
    free(path);
    json_object_object_add(obj, "name", json_object_new_string(name));
    struct chain_template *t;
    assert_null(chain_template_from_json("t", obj, &t));
    json_object_put(obj);
    return t;
}

static void
test_add_find_remove(void **state)
{
    struct registry reg;
    registry_init(&reg);
    const char *names[] = { "mmm", "aaa", "zzz", "bbb" };
    for (size_t i = 0; i < 4; i++) {
        assert_null(registry_add(&reg, template_named(names[i]), "f.json", 1, false));
    }
    assert_int_equal(reg.n_chains, 4);
    assert_string_equal(reg.chains[0]->name, "aaa");
    assert_string_equal(reg.chains[3]->name, "zzz");
    assert_non_null(registry_find(&reg, "mmm"));
    assert_null(registry_find(&reg, "nnn"));

    struct vnet_error *e = registry_add(&reg, template_named("bbb"), "g.json", 2, false);
    assert_non_null(e);
    assert_string_equal(e->tag, VNET_ERR_EXISTS);
    assert_string_equal(e->message, "chain 'bbb' is already loaded (from f.json); "
                        "delete it first or load with --replace");
    vnet_error_destroy(e);
    assert_null(registry_add(&reg, template_named("bbb"), "g.json", 2, true));
    assert_string_equal(registry_find(&reg, "bbb")->source, "g.json");
    assert_int_equal(reg.n_chains, 4);

    assert_true(registry_remove(&reg, "mmm"));
    assert_false(registry_remove(&reg, "mmm"));
    assert_int_equal(reg.n_chains, 3);
    registry_destroy(&reg);
}

static void
test_json_round_trip(void **state)
{
    struct registry reg, back;
    registry_init(&reg);
    assert_null(registry_add(&reg, template_named("one"), "1.json", 11, false));
    assert_null(registry_add(&reg, template_named("two"), "2.json", 22, false));
    struct json_object *j = registry_to_json(&reg);
    assert_null(registry_from_json(&back, j));
    struct json_object *j2 = registry_to_json(&back);
    assert_string_equal(json_object_to_json_string(j), json_object_to_json_string(j2));
    assert_int_equal(registry_find(&back, "two")->loaded_at, 22);
    json_object_put(j);
    json_object_put(j2);
    registry_destroy(&reg);
    registry_destroy(&back);
}

/* A swap's drain period survives a restart (wall-clock time in the file); one that
 * is over is not written, and one that ended while vnetd was down is dropped. */
static void
test_drain_persisted(void **state)
{
    struct registry reg, back;
    registry_init(&reg);
    assert_null(registry_add(&reg, template_named("one"), "1.json", 11, false));
    struct chain_entry *e = registry_find(&reg, "one");
    e->shadow = vnet_xzalloc(sizeof *e->shadow);
    e->shadow->tmpl = chain_template_clone(e->tmpl);
    e->shadow->active = 1;
    e->shadow->drain_until_ns = vnet_mono_ns() + 3000000000ull;
    struct json_object *j = registry_to_json(&reg);
    assert_null(registry_from_json(&back, j));
    uint64_t left = registry_find(&back, "one")->shadow->drain_until_ns - vnet_mono_ns();
    assert_true(left > 2000000000ull && left <= 3000000000ull);
    registry_destroy(&back);
    json_object_put(j);

    e->shadow->drain_until_ns = vnet_mono_ns() - 1;
    j = registry_to_json(&reg);
    assert_null(strstr(json_object_to_json_string(j), "drain_until_ms"));
    json_object_put(j);

    e->shadow->drain_until_ns = vnet_mono_ns() + 3000000000ull;
    j = registry_to_json(&reg);
    struct json_object *sh = json_object_object_get(
        json_object_array_get_idx(json_object_object_get(j, "chains"), 0), "shadow");
    json_object_object_add(sh, "drain_until_ms", json_object_new_int64(1000));
    assert_null(registry_from_json(&back, j));
    assert_int_equal(registry_find(&back, "one")->shadow->drain_until_ns, 0);
    registry_destroy(&back);
    json_object_put(j);
    registry_destroy(&reg);
}

static void
test_invalid_stored_template(void **state)
{
    struct registry reg, back;
    registry_init(&reg);
    assert_null(registry_add(&reg, template_named("one"), "1.json", 11, false));
    struct json_object *j = registry_to_json(&reg);
    struct json_object *t = json_object_object_get(
        json_object_array_get_idx(json_object_object_get(j, "chains"), 0), "template");
    json_object_object_add(t, "name", json_object_new_string("BAD"));
    struct vnet_error *e = registry_from_json(&back, j);
    assert_non_null(e);
    assert_string_equal(e->message, "$.chains[0].template: $.name: expected a name "
                        "matching [a-z0-9][a-z0-9-]{0,23}, got \"BAD\"");
    assert_int_equal(back.n_chains, 0);
    vnet_error_destroy(e);
    json_object_put(j);
    registry_destroy(&reg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_find_remove),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_drain_persisted),
        cmocka_unit_test(test_invalid_stored_template),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
