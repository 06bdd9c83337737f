/* Walks vnetctl's command table (vnetd/ctl-commands.c): every row is complete and
 * consistent, so the help, completion and man page generated from it are too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <ctype.h>
#include <string.h>

#include "vnetd/ctl-commands.h"

static int
count_words(const char *s)
{
    int n = 0;
    bool in = false;
    for (; *s; s++) {
        if (*s == ' ') {
            in = false;
        } else if (!in) {
            in = true;
            n++;
        }
    }
    return n;
}

static void
test_rows_complete(void **state)
{
    int n = 0;
    for (const struct ctl_command *c = ctl_commands; c->name; c++, n++) {
        assert_non_null(c->handler);
        assert_non_null(c->synopsis);
        assert_true(c->help && strlen(c->help) > 10);
        assert_true(c->min_args >= 0 && c->min_args <= c->max_args);
        /* Names are lower-case words separated by single spaces. */
        for (const char *p = c->name; *p; p++) {
            assert_true(islower((unsigned char) *p) || *p == ' ' || *p == '-');
        }
        assert_true(c->name[0] != ' ' && c->name[strlen(c->name) - 1] != ' ');
        assert_null(strstr(c->name, "  "));
        /* The synopsis names as many required metavariables as min_args. */
        int words = count_words(c->synopsis);
        int optional = 0;
        for (const char *p = c->synopsis; *p; p++) {
            optional += *p == '[';
        }
        assert_true(words >= c->min_args);
        assert_true(words - optional <= c->max_args || c->max_args > 8);
        for (const struct ctl_option *o = c->options; o && o->name; o++) {
            assert_true(o->help && *o->help);
            assert_true(o->name[0] != '-');
        }
    }
    assert_true(n >= 9);
}

static void
test_names_unique(void **state)
{
    for (const struct ctl_command *a = ctl_commands; a->name; a++) {
        for (const struct ctl_command *b = a + 1; b->name; b++) {
            assert_true(strcmp(a->name, b->name) != 0);
        }
    }
}

/* An option name means the same thing (takes an argument or not) everywhere, since
 * vnetctl parses options before it knows the command. */
static void
test_options_consistent(void **state)
{
    for (const struct ctl_command *a = ctl_commands; a->name; a++) {
        for (const struct ctl_option *o = a->options; o && o->name; o++) {
            for (const struct ctl_option *g = ctl_global_options; g->name; g++) {
                assert_true(strcmp(o->name, g->name) != 0);
            }
            /* A short alias names one option everywhere. */
            for (const struct ctl_command *b = ctl_commands; o->short_name && b->name;
                 b++) {
                for (const struct ctl_option *p = b->options; p && p->name; p++) {
                    if (p->short_name == o->short_name) {
                        assert_string_equal(p->name, o->name);
                    }
                }
            }
            for (const struct ctl_command *b = ctl_commands; b->name; b++) {
                for (const struct ctl_option *p = b->options; p && p->name; p++) {
                    if (!strcmp(o->name, p->name)) {
                        assert_true(!o->arg == !p->arg);
                    }
                }
            }
        }
    }
}

/* The required commands exist with their arity. */
static void
test_required_commands(void **state)
{
    static const struct { const char *name; int min, max; bool ro; } required[] = {
        { "version", 0, 0, true }, { "status", 0, 0, true },
        { "chain load", 1, 1, false }, { "chain list", 0, 0, true },
        { "chain show", 1, 1, true }, { "chain delete", 1, 1, false },
        { "log set", 1, 1, false },
    };
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        const struct ctl_command *found = NULL;
        for (const struct ctl_command *c = ctl_commands; c->name; c++) {
            if (!strcmp(c->name, required[i].name)) {
                found = c;
            }
        }
        assert_non_null(found);
        assert_int_equal(found->min_args, required[i].min);
        assert_int_equal(found->max_args, required[i].max);
        assert_int_equal(found->read_only, required[i].ro);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_complete),
        cmocka_unit_test(test_names_unique),
        cmocka_unit_test(test_options_consistent),
        cmocka_unit_test(test_required_commands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
