/* Tests monitor/store.c: one-second segments, windowed dumps across segments, and
 * retention. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"
#include "monitor/store.h"

static char dir[64];

static int
count_files(const char *suffix)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        n += len > strlen(suffix) && !strcmp(de->d_name + len - strlen(suffix), suffix);
    }
    closedir(d);
    return n;
}

static long
count_packets(const char *path, uint64_t *first, uint64_t *last)
{
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO,
                                                        errbuf);
    assert_non_null(p);
    struct pcap_pkthdr *h;
    const u_char *d;
    long n = 0;
    while (pcap_next_ex(p, &h, &d) == 1) {
        uint64_t ts = (uint64_t) h->ts.tv_sec * 1000000000ull + (uint64_t) h->ts.tv_usec;
        if (!n) {
            *first = ts;
        }
        *last = ts;
        n++;
    }
    pcap_close(p);
    return n;
}

static void
test_segments_and_dump(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/vnet-test-store-%d", (int) getpid());
    struct store *s;
    assert_int_equal(store_create(dir, 3, 96, &s), 0);
    size_t in = store_add_port(s, "fw.in");
    size_t out = store_add_port(s, "fw.out");
    uint8_t frame[200];
    memset(frame, 0xab, sizeof frame);
    uint64_t t0 = 1000ull * 1000000000ull;
    /* 10 packets per 100 ms over 5 seconds on both ports. */
    for (int i = 0; i < 500; i++) {
        uint64_t ts = t0 + (uint64_t) i * 10000000ull;
        store_write(s, in, ts, frame, sizeof frame, sizeof frame);
        store_write(s, out, ts + 5000, frame, 60, 60);
    }
    store_rotate(s, t0 + 4500000000ull);
    /* 'keep' is 3 s and the clock reads 1004.5: a segment goes once all of it is
     * older than 1001.5, so second 1000 goes and 1001..1004 stay. */
    assert_int_equal(count_files(".pcap"), 2 * 4);
    char *path = vnet_xasprintf("%s/dump.pcap", dir);
    uint64_t first = 0, last = 0;
    /* A window across two segments. */
    long n = store_dump(s, in, t0 + 2500000000ull, t0 + 3500000000ull, path);
    assert_int_equal(n, 100);
    assert_int_equal(count_packets(path, &first, &last), 100);
    assert_int_equal(first, t0 + 2500000000ull);
    assert_int_equal(last, t0 + 3490000000ull);
    /* Data older than the retention window is gone. */
    n = store_dump(s, out, t0, t0 + 1000000000ull, path);
    assert_int_equal(n, 0);
    unlink(path);
    free(path);
    store_destroy(s);
    assert_int_equal(count_files(".pcap"), 0);
    rmdir(dir);
}

static void
test_reuse_clears_stale(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/vnet-test-store2-%d", (int) getpid());
    struct store *s;
    assert_int_equal(store_create(dir, 30, 96, &s), 0);
    size_t p = store_add_port(s, "x.in");
    uint8_t frame[64] = { 0 };
    store_write(s, p, 5000000000ull, frame, 64, 64);
    store_rotate(s, 5000000000ull);
    /* A second store in the same directory starts empty, as after a crash. */
    struct store *s2;
    assert_int_equal(store_create(dir, 30, 96, &s2), 0);
    assert_int_equal(count_files(".pcap"), 0);
    store_destroy(s2);
    store_destroy(s);
    rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_segments_and_dump),
        cmocka_unit_test(test_reuse_clears_stale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
