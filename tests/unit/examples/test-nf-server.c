/* Tests examples/nf/server.c: peak-rate pacing and fault knobs with a simulated
 * clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdint.h>

#include "examples/nf/server.h"

#define MS 1000000ull
#define US 1000ull
#define T0 (1000 * MS)

/* Polls the server every 'step' ns from 'from' to 'to' with an always-full queue;
 * returns how many packets it let through. */
static uint64_t
drive(struct nf_server *s, uint64_t from, uint64_t to, uint64_t step)
{
    uint64_t served = 0, next;
    for (uint64_t t = from; t < to; t += step) {
        served += nf_server_grant(s, t, 64, &next);
    }
    return served;
}

static void
test_unlimited(void **state)
{
    struct nf_server s;
    nf_server_init(&s, 0, 1);
    uint64_t next = 0;
    assert_int_equal(nf_server_grant(&s, T0, 64, &next), 64);
    assert_int_equal(nf_server_grant(&s, T0, 7, &next), 7);
    assert_int_equal(nf_server_slow(&s, T0, 2.0, 10), -EINVAL);   /* nothing to divide */
}

static void
test_peak_rate_exact(void **state)
{
    /* 1000 pps for one second: 1000 packets plus the idle bank's one extra (B = 2),
     * polled every 10 us or at the exact service times. */
    struct nf_server s;
    nf_server_init(&s, 1000, 1);
    assert_int_equal(drive(&s, T0, T0 + 1000 * MS, 10 * US), 1001);

    nf_server_init(&s, 1000, 1);
    uint64_t next;
    assert_int_equal(nf_server_grant(&s, T0, 64, &next), 2);   /* the idle bank: B = 2 */
    assert_int_equal(next, T0 + MS);
    assert_int_equal(nf_server_grant(&s, next - 1, 64, &next), 0);
    assert_int_equal(next, T0 + MS);
    assert_int_equal(nf_server_grant(&s, next, 64, &next), 1);
    assert_int_equal(next, T0 + 2 * MS);

    /* A high rate: 1 Mpps over 10 ms polled every 50 us (within the 64 us bank);
     * polled every 100 us, only the bank's 64 packets per poll get through. */
    nf_server_init(&s, 1000000, 1);
    assert_in_range(drive(&s, T0, T0 + 10 * MS, 50 * US), 10000, 10064);
    nf_server_init(&s, 1000000, 1);
    assert_int_equal(drive(&s, T0, T0 + 10 * MS, 100 * US), 100 * 64);
}

/* Like the NF: sleeps until the time the server names, but wakes 'late' ns after. */
static uint64_t
drive_late(struct nf_server *s, uint64_t from, uint64_t to, uint64_t late)
{
    uint64_t served = 0, next = from, t = from;
    while (t < to) {
        unsigned int n = nf_server_grant(s, t, 64, &next);
        served += n;
        t = n == 64 ? t : next + late;
    }
    return served;
}

static void
test_late_wakeups_lose_nothing(void **state)
{
    /* Waking up to (B - 1) service times late keeps the average rate: at 2000 pps
     * (B = 4, cost 500 us) wake-ups 1.4 ms late still give 2000 per second. */
    struct nf_server s;
    nf_server_init(&s, 2000, 1);
    assert_in_range(drive_late(&s, T0, T0 + 1000 * MS, 1400 * US), 2000, 2003);
    /* At 100 kpps B = 64 (cost 10 us): 600 us late loses nothing either. */
    nf_server_init(&s, 100000, 1);
    assert_in_range(drive_late(&s, T0, T0 + 1000 * MS, 600 * US), 100000, 100064);
    /* Later than that, capacity is lost: 3 ms late at 2000 pps. */
    nf_server_init(&s, 2000, 1);
    assert_in_range(drive_late(&s, T0, T0 + 1000 * MS, 3 * MS), 1000, 1900);
}

static void
test_idle_bank_is_bounded(void **state)
{
    /* After a long idle period at most B packets go out back to back:
     * B = clamp(2 ms / cost, 2, 64). */
    struct nf_server s;
    uint64_t next;
    nf_server_init(&s, 1000000, 1);                    /* cost 1 us: B = 64 */
    assert_int_equal(nf_server_grant(&s, T0, 100, &next), 64);
    assert_int_equal(nf_server_grant(&s, T0 + 5000 * MS, 100, &next), 64);
    nf_server_init(&s, 50000, 1);                      /* cost 20 us: B = 64 */
    assert_int_equal(nf_server_grant(&s, T0, 100, &next), 64);
    nf_server_init(&s, 10000, 1);                      /* cost 100 us: B = 20 */
    assert_int_equal(nf_server_grant(&s, T0, 100, &next), 20);
    nf_server_init(&s, 10, 1);                         /* cost 100 ms: B = 2 */
    assert_int_equal(nf_server_grant(&s, T0, 64, &next), 2);
}

static void
test_pause(void **state)
{
    struct nf_server s;
    uint64_t next;
    nf_server_init(&s, 0, 1);
    nf_server_pause(&s, T0, 50000);                    /* 50 ms */
    assert_int_equal(nf_server_grant(&s, T0 + 49 * MS, 64, &next), 0);
    assert_int_equal(next, T0 + 50 * MS);
    assert_int_equal(nf_server_grant(&s, T0 + 50 * MS, 64, &next), 64);
    /* A shorter pause does not cut a longer one short. */
    nf_server_pause(&s, T0, 100000);
    nf_server_pause(&s, T0 + MS, 10);
    assert_int_equal(nf_server_grant(&s, T0 + 99 * MS, 1, &next), 0);
    assert_int_equal(next, T0 + 100 * MS);

    /* With a peak rate, the queue drains at the peak rate after the pause (no
     * catch-up burst beyond the bank). */
    nf_server_init(&s, 1000, 1);
    nf_server_pause(&s, T0, 100000);
    assert_int_equal(drive(&s, T0, T0 + 100 * MS, 100 * US), 0);
    assert_int_equal(nf_server_grant(&s, T0 + 100 * MS, 64, &next), 2);
    assert_int_equal(drive(&s, T0 + 100 * MS + 1, T0 + 200 * MS, 100 * US), 99);
}

static void
test_slow(void **state)
{
    struct nf_server s;
    nf_server_init(&s, 10000, 1);
    assert_int_equal(nf_server_slow(&s, T0, 0.5, 100), -EINVAL);
    assert_int_equal(nf_server_slow(&s, T0, 4.0, 100), 0);
    assert_true(nf_server_factor(&s, T0 + 99 * MS) == 4.0);
    uint64_t slowed = drive(&s, T0, T0 + 100 * MS, 10 * US);
    assert_in_range(slowed, 250, 255);                 /* 2500 pps for 100 ms, + B */
    assert_true(nf_server_factor(&s, T0 + 100 * MS) == 1.0);
    uint64_t normal = drive(&s, T0 + 100 * MS, T0 + 200 * MS, 10 * US);
    assert_in_range(normal, 999, 1003);
}

static void
test_drop_ratio(void **state)
{
    struct nf_server s;
    nf_server_init(&s, 0, 42);
    int n = 0;
    for (int i = 0; i < 10000; i++) {
        n += nf_server_fault_drop(&s);
    }
    assert_int_equal(n, 0);
    nf_server_set_drop(&s, 1.0);
    for (int i = 0; i < 10000; i++) {
        n += nf_server_fault_drop(&s);
    }
    assert_int_equal(n, 10000);
    nf_server_set_drop(&s, 0.5);
    n = 0;
    for (int i = 0; i < 100000; i++) {
        n += nf_server_fault_drop(&s);
    }
    assert_in_range(n, 49000, 51000);                  /* +-6 sigma */
    nf_server_set_drop(&s, 0.01);
    n = 0;
    for (int i = 0; i < 100000; i++) {
        n += nf_server_fault_drop(&s);
    }
    assert_in_range(n, 800, 1200);
}

static void
test_peak_change(void **state)
{
    struct nf_server s;
    nf_server_init(&s, 1000, 1);
    assert_int_equal(drive(&s, T0, T0 + 100 * MS, 10 * US), 101);
    nf_server_set_peak(&s, 5000);
    uint64_t n = drive(&s, T0 + 100 * MS, T0 + 200 * MS, 10 * US);
    assert_in_range(n, 499, 510);                      /* + at most B = 10 */
    nf_server_set_peak(&s, 0);
    uint64_t next;
    assert_int_equal(nf_server_grant(&s, T0 + 200 * MS, 64, &next), 64);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unlimited),
        cmocka_unit_test(test_peak_rate_exact),
        cmocka_unit_test(test_late_wakeups_lose_nothing),
        cmocka_unit_test(test_idle_bank_is_bounded),
        cmocka_unit_test(test_pause),
        cmocka_unit_test(test_slow),
        cmocka_unit_test(test_drop_ratio),
        cmocka_unit_test(test_peak_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
