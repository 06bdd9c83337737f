/* Tests vnetd/state-file.c: round trip, and every kind of damage is detected,
 * reported and never silently turned into an empty state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/atomic-file.h"
#include "lib/error.h"
#include "lib/util.h"
#include "vnetd/state-file.h"

static char dir[64];

static int
setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/vnet-test-state-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int
teardown(void **state)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] != '.') {
            char *p = vnet_xasprintf("%s/%s", dir, de->d_name);
            unlink(p);
            free(p);
        }
    }
    closedir(d);
    rmdir(dir);
    return 0;
}

static struct json_object *
sample(int n)
{
    struct json_object *reg = json_object_new_object();
    struct json_object *chains = json_object_new_array();
    for (int i = 0; i < n; i++) {
        struct json_object *c = json_object_new_object();
        char name[16];
        snprintf(name, sizeof name, "c%d", i);
        json_object_object_add(c, "name", json_object_new_string(name));
        json_object_object_add(c, "ratio", json_object_new_double(0.1 * i));
        json_object_array_add(chains, c);
    }
    json_object_object_add(reg, "chains", chains);
    return reg;
}

static int
n_chains(struct json_object *reg)
{
    return (int) json_object_array_length(json_object_object_get(reg, "chains"));
}

static struct state_file *
open_ok(struct json_object **reg, int *n_notices)
{
    struct state_file *sf;
    struct json_object *notices;
    struct vnet_error *error = state_file_open(dir, false, &sf, reg, &notices);
    if (error) {
        fail_msg("%s", error->message);
    }
    *n_notices = (int) json_object_array_length(notices);
    json_object_put(notices);
    return sf;
}

static int
count_files(const char *prefix)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while ((de = readdir(d))) {
        n += !strncmp(de->d_name, prefix, strlen(prefix));
    }
    closedir(d);
    return n;
}

static void
test_fresh_and_round_trip(void **state)
{
    struct json_object *reg;
    int notices;
    struct state_file *sf = open_ok(&reg, &notices);
    assert_int_equal(notices, 0);
    assert_int_equal(state_file_generation(sf), 0);
    assert_int_equal(json_object_object_length(reg), 0);
    json_object_put(reg);

    for (int i = 1; i <= 3; i++) {
        struct json_object *s = sample(i);
        assert_int_equal(state_file_save(sf, s), 0);
        json_object_put(s);
    }
    assert_int_equal(state_file_generation(sf), 3);
    state_file_close(sf);

    sf = open_ok(&reg, &notices);
    assert_int_equal(state_file_generation(sf), 3);
    assert_int_equal(n_chains(reg), 3);
    assert_int_equal(notices, 0);
    json_object_put(reg);
    state_file_close(sf);
}

/* Writes generations 1 (2 chains) and 2 (5 chains), then damages state.json. */
static void
prepare_two_generations(void)
{
    struct json_object *reg;
    int notices;
    struct state_file *sf = open_ok(&reg, &notices);
    json_object_put(reg);
    struct json_object *s = sample(2);
    assert_int_equal(state_file_save(sf, s), 0);
    json_object_put(s);
    s = sample(5);
    assert_int_equal(state_file_save(sf, s), 0);
    json_object_put(s);
    state_file_close(sf);
}

static void
damage(const char *how)
{
    char *path = vnet_xasprintf("%s/state.json", dir);
    char *text;
    size_t len;
    assert_int_equal(vnet_read_file(path, 1 << 20, &text, &len), 0);
    if (!strcmp(how, "truncate")) {
        len /= 2;
    } else if (!strcmp(how, "flip")) {
        /* Change a digit inside the registry: still valid JSON. */
        char *p = strstr(text, "\"c4\"");
        assert_non_null(p);
        p[2] = '7';
    } else if (!strcmp(how, "empty")) {
        len = 0;
    } else if (!strcmp(how, "garbage")) {
        memset(text, 0xff, len);
    }
    assert_int_equal(vnet_atomic_write(path, text, len, 0600), 0);
    free(text);
    free(path);
}

static void
check_recovers(const char *how)
{
    prepare_two_generations();
    damage(how);
    struct json_object *reg;
    int notices;
    struct state_file *sf = open_ok(&reg, &notices);
    /* The last good copy is generation 1 with 2 chains; the damage is reported. */
    assert_int_equal(state_file_generation(sf), 1);
    assert_int_equal(n_chains(reg), 2);
    assert_int_equal(notices, 2);
    assert_int_equal(count_files("state.json.corrupt-"), 1);
    /* Saving again works and keeps the corrupt copy for the operator. */
    assert_int_equal(state_file_save(sf, reg), 0);
    assert_int_equal(state_file_generation(sf), 2);
    assert_int_equal(count_files("state.json.corrupt-"), 1);
    json_object_put(reg);
    state_file_close(sf);
}

static void test_truncated(void **state) { check_recovers("truncate"); }
static void test_flipped_byte(void **state) { check_recovers("flip"); }
static void test_empty_file(void **state) { check_recovers("empty"); }
static void test_garbage_file(void **state) { check_recovers("garbage"); }

static void
test_no_good_copy_refuses(void **state)
{
    prepare_two_generations();
    damage("truncate");
    char *bak = vnet_xasprintf("%s/state.json.bak", dir);
    assert_int_equal(vnet_atomic_write(bak, "{", 1, 0600), 0);
    free(bak);

    struct state_file *sf;
    struct json_object *reg, *notices;
    struct vnet_error *error = state_file_open(dir, false, &sf, &reg, &notices);
    assert_non_null(error);
    assert_non_null(strstr(error->message, "no readable state"));
    assert_non_null(strstr(error->message, "--reset-state"));
    vnet_error_destroy(error);
    /* Nothing was deleted: the damaged main file was only moved aside. */
    assert_int_equal(count_files("state.json.corrupt-"), 1);
    assert_int_equal(count_files("state.json.bak"), 1);

    /* --reset-state: explicit, and the damaged files are still kept. */
    error = state_file_open(dir, true, &sf, &reg, &notices);
    assert_null(error);
    assert_int_equal(json_object_object_length(reg), 0);
    assert_true(json_object_array_length(notices) >= 1);
    assert_int_equal(count_files("state.json.corrupt-"), 1);
    assert_int_equal(count_files("state.json.bak.corrupt-"), 1);
    json_object_put(reg);
    json_object_put(notices);
    state_file_close(sf);
}

static void
test_decode_errors(void **state)
{
    struct json_object *reg = sample(1);
    size_t len;
    char *text = state_file_encode(reg, 4, &len);
    struct json_object *out;
    uint64_t gen;
    assert_null(state_file_decode(text, len, &out, &gen));
    assert_int_equal(gen, 4);
    json_object_put(out);
    /* Another format or version is refused. */
    char *other = vnet_xstrdup(text);
    memcpy(strstr(other, "vnet-state"), "vnet-stat3", 10);
    struct vnet_error *e = state_file_decode(other, len, &out, &gen);
    assert_non_null(e);
    assert_non_null(strstr(e->message, "not a version 1 vnet state file"));
    vnet_error_destroy(e);
    free(other);
    free(text);
    json_object_put(reg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh_and_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_good_copy_refuses, setup, teardown),
        cmocka_unit_test(test_decode_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
