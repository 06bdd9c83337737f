/* Tests examples/nf/queue.c: the FIFO of packet slots. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "examples/nf/queue.h"

static void
push_seq(struct nf_queue *q, uint32_t n, uint32_t *next)
{
    for (uint32_t i = 0; i < n; i++) {
        struct nf_slot *s = nf_queue_tail(q, i);
        memcpy(s->data, next, sizeof *next);
        s->len = sizeof *next;
        (*next)++;
    }
    nf_queue_push(q, n);
}

static void
pop_expect(struct nf_queue *q, uint32_t n, uint32_t *expect)
{
    for (uint32_t i = 0; i < n; i++) {
        uint32_t v;
        memcpy(&v, nf_queue_head(q, i)->data, sizeof v);
        assert_int_equal(v, *expect);
        (*expect)++;
    }
    nf_queue_pop(q, n);
}

static void
test_fifo_order_and_wrap(void **state)
{
    struct nf_queue q;
    nf_queue_init(&q, 8);
    uint32_t next = 0, expect = 0;
    assert_int_equal(nf_queue_room(&q), 8);
    for (int round = 0; round < 50; round++) {
        push_seq(&q, 5, &next);
        assert_int_equal(q.count, 5);
        assert_int_equal(nf_queue_room(&q), 3);
        pop_expect(&q, 3, &expect);
        push_seq(&q, 3, &next);
        assert_int_equal(nf_queue_room(&q), 3);
        pop_expect(&q, 5, &expect);
        assert_int_equal(q.count, 0);
    }
    assert_int_equal(q.max_count, 5);
    push_seq(&q, 8, &next);
    assert_int_equal(nf_queue_room(&q), 0);
    assert_int_equal(q.max_count, 8);
    pop_expect(&q, 8, &expect);
    nf_queue_destroy(&q);
}

static void
test_capacity_changes_keep_packets(void **state)
{
    struct nf_queue q;
    nf_queue_init(&q, 4);
    uint32_t next = 0, expect = 0;
    push_seq(&q, 3, &next);
    pop_expect(&q, 2, &expect);
    push_seq(&q, 3, &next);                 /* wraps around */
    assert_int_equal(q.count, 4);

    nf_queue_set_capacity(&q, 16);          /* grow: order kept, room opens */
    assert_int_equal(nf_queue_room(&q), 12);
    push_seq(&q, 10, &next);
    nf_queue_set_capacity(&q, 2);           /* shrink below the count: nothing lost */
    assert_int_equal(q.count, 14);
    assert_int_equal(nf_queue_room(&q), 0);
    pop_expect(&q, 13, &expect);
    assert_int_equal(nf_queue_room(&q), 1);
    push_seq(&q, 1, &next);
    pop_expect(&q, 2, &expect);
    assert_int_equal(expect, next);
    nf_queue_set_capacity(&q, 2);
    assert_int_equal(nf_queue_room(&q), 2);
    nf_queue_set_capacity(&q, NF_QUEUE_MAX);
    assert_int_equal(nf_queue_room(&q), NF_QUEUE_MAX);
    nf_queue_destroy(&q);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_order_and_wrap),
        cmocka_unit_test(test_capacity_changes_keep_packets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
