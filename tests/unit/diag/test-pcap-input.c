/* Tests diag/pcap-input.c on files written here (libpcap's pcap_dump for pcap, by
 * hand for pcapng): microsecond and nanosecond timestamps, pcapng, and every kind
 * of bad file with the exact message. */
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

#include "diag/pcap-input.h"
#include "lib/error.h"
#include "lib/util.h"

struct fixture {
    char dir[64];
};

static int
setup(void **state)
{
    struct fixture *fx = vnet_xzalloc(sizeof *fx);
    vnet_strlcpy(fx->dir, "/tmp/vnet-test-pcap-XXXXXX", sizeof fx->dir);
    assert_non_null(mkdtemp(fx->dir));
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;
    DIR *d = opendir(fx->dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            char *p = vnet_xasprintf("%s/%s", fx->dir, e->d_name);
            assert_int_equal(unlink(p), 0);
            free(p);
        }
    }
    closedir(d);
    assert_int_equal(rmdir(fx->dir), 0);
    free(fx);
    return 0;
}

static char *
path_of(void **state, const char *name)
{
    struct fixture *fx = *state;
    return vnet_xasprintf("%s/%s", fx->dir, name);
}

/* A 60-byte frame whose first byte is 'tag'. */
static void
frame(uint8_t *f, uint8_t tag)
{
    memset(f, 0, 60);
    f[0] = tag;
    f[12] = 0x08;
}

/* Writes 'n' 60-byte frames with timestamps ts[i] (seconds, fraction in units of
 * the precision) using libpcap. */
static void
write_pcap(const char *path, int dlt, int precision, const uint64_t *sec,
           const uint32_t *frac, size_t n)
{
    pcap_t *dead = pcap_open_dead_with_tstamp_precision(dlt, 65535, precision);
    assert_non_null(dead);
    pcap_dumper_t *d = pcap_dump_open(dead, path);
    assert_non_null(d);
    for (size_t i = 0; i < n; i++) {
        uint8_t f[60];
        frame(f, (uint8_t) (i + 1));
        struct pcap_pkthdr h = { .caplen = 60, .len = 60 };
        h.ts.tv_sec = (time_t) sec[i];
        h.ts.tv_usec = (suseconds_t) frac[i];
        pcap_dump((u_char *) d, &h, f);
    }
    pcap_dump_close(d);
    pcap_close(dead);
}

static void
write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static char *
open_error(const char *path)
{
    struct pcap_input *in = NULL;
    struct vnet_error *error = pcap_input_open(path, &in);
    assert_non_null(error);
    assert_null(in);
    char *msg = vnet_xstrdup(error->message);
    vnet_error_destroy(error);
    return msg;
}

static void
test_microsecond_pcap(void **state)
{
    char *path = path_of(state, "us.pcap");
    uint64_t sec[] = { 1700000000, 1700000000, 1700000001 };
    uint32_t usec[] = { 1, 999999, 0 };
    write_pcap(path, DLT_EN10MB, PCAP_TSTAMP_PRECISION_MICRO, sec, usec, 3);
    struct pcap_input *in;
    assert_null(pcap_input_open(path, &in));
    assert_false(pcap_input_is_pcapng(in));
    assert_false(pcap_input_is_nanosecond(in));
    for (size_t i = 0; i < 3; i++) {
        const struct pcap_input_pkt *p;
        assert_null(pcap_input_next(in, &p));
        assert_non_null(p);
        assert_true(p->ts_ns == sec[i] * 1000000000ULL + usec[i] * 1000ULL);
        assert_int_equal(p->caplen, 60);
        assert_int_equal(p->len, 60);
        assert_int_equal(p->data[0], i + 1);
    }
    const struct pcap_input_pkt *p;
    assert_null(pcap_input_next(in, &p));
    assert_null(p);
    assert_null(pcap_input_next(in, &p));     /* the end stays the end */
    assert_null(p);
    assert_int_equal(pcap_input_stats(in)->packets, 3);
    assert_string_equal(pcap_input_path(in), path);
    pcap_input_close(in);
    free(path);
}

static void
test_nanosecond_pcap(void **state)
{
    char *path = path_of(state, "ns.pcap");
    uint64_t sec[] = { 1700000000, 1700000000 };
    uint32_t nsec[] = { 123456789, 123456790 };
    write_pcap(path, DLT_EN10MB, PCAP_TSTAMP_PRECISION_NANO, sec, nsec, 2);
    struct pcap_input *in;
    assert_null(pcap_input_open(path, &in));
    assert_true(pcap_input_is_nanosecond(in));
    const struct pcap_input_pkt *p;
    assert_null(pcap_input_next(in, &p));
    assert_true(p->ts_ns == 1700000000123456789ULL);
    assert_null(pcap_input_next(in, &p));
    assert_true(p->ts_ns == 1700000000123456790ULL);
    pcap_input_close(in);
    free(path);
}

static void
put32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t) (v >> (8 * i));
    }
}

/* A pcapng file: section header, one Ethernet interface (with if_tsresol 9 when
 * 'nano', else the default microseconds), then one enhanced packet per timestamp
 * (in units of the resolution). */
static size_t
build_pcapng(uint8_t *b, bool nano, const uint64_t *ts, size_t n)
{
    size_t o = 0;
    put32le(b + o, 0x0a0d0d0a), put32le(b + o + 4, 28), put32le(b + o + 8, 0x1a2b3c4d);
    b[o + 12] = 1, b[o + 13] = 0, b[o + 14] = 0, b[o + 15] = 0;
    memset(b + o + 16, 0xff, 8);
    put32le(b + o + 24, 28);
    o += 28;
    size_t idb = nano ? 32 : 20;
    put32le(b + o, 1), put32le(b + o + 4, (uint32_t) idb);
    b[o + 8] = 1, b[o + 9] = 0, b[o + 10] = 0, b[o + 11] = 0;
    put32le(b + o + 12, 65535);
    if (nano) {
        b[o + 16] = 9, b[o + 17] = 0, b[o + 18] = 1, b[o + 19] = 0;
        b[o + 20] = 9, b[o + 21] = b[o + 22] = b[o + 23] = 0;
        memset(b + o + 24, 0, 4);               /* opt_endofopt */
    }
    put32le(b + o + idb - 4, (uint32_t) idb);
    o += idb;
    for (size_t i = 0; i < n; i++) {
        size_t len = 32 + 60;
        put32le(b + o, 6), put32le(b + o + 4, (uint32_t) len), put32le(b + o + 8, 0);
        put32le(b + o + 12, (uint32_t) (ts[i] >> 32));
        put32le(b + o + 16, (uint32_t) ts[i]);
        put32le(b + o + 20, 60), put32le(b + o + 24, 60);
        frame(b + o + 28, (uint8_t) (0x40 + i));
        put32le(b + o + len - 4, (uint32_t) len);
        o += len;
    }
    return o;
}

static void
test_pcapng(void **state)
{
    uint8_t buf[4096];
    uint64_t ts[] = { 1700000000123456789ULL, 1700000000123456999ULL };
    char *path = path_of(state, "ng.pcapng");
    write_bytes(path, buf, build_pcapng(buf, true, ts, 2));
    struct pcap_input *in;
    struct vnet_error *error = pcap_input_open(path, &in);
    if (error) {
        fail_msg("%s", error->message);
    }
    assert_true(pcap_input_is_pcapng(in));
    for (size_t i = 0; i < 2; i++) {
        const struct pcap_input_pkt *p;
        assert_null(pcap_input_next(in, &p));
        assert_non_null(p);
        assert_true(p->ts_ns == ts[i]);
        assert_int_equal(p->data[0], 0x40 + i);
    }
    const struct pcap_input_pkt *p;
    assert_null(pcap_input_next(in, &p));
    assert_null(p);
    pcap_input_close(in);
    free(path);

    /* Default resolution: microseconds, scaled to nanoseconds. */
    uint64_t us[] = { 1700000000123456ULL };
    path = path_of(state, "ng-us.pcapng");
    write_bytes(path, buf, build_pcapng(buf, false, us, 1));
    assert_null(pcap_input_open(path, &in));
    assert_null(pcap_input_next(in, &p));
    assert_true(p->ts_ns == 1700000000123456000ULL);
    pcap_input_close(in);
    free(path);

    /* 64 bits of microseconds reach past 64 bits of nanoseconds: an error naming
     * the packet, never a wrapped time. */
    uint64_t far[] = { 1700000000123456ULL, (PCAP_INPUT_MAX_SEC + 1) * 1000000ULL };
    path = path_of(state, "ng-far.pcapng");
    write_bytes(path, buf, build_pcapng(buf, false, far, 2));
    assert_null(pcap_input_open(path, &in));
    assert_null(pcap_input_next(in, &p));
    assert_true(p->ts_ns == 1700000000123456000ULL);
    struct vnet_error *far_error = pcap_input_next(in, &p);
    assert_non_null(far_error);
    assert_non_null(strstr(far_error->message, "packet 2: timestamp 18446744073 s"));
    vnet_error_destroy(far_error);
    pcap_input_close(in);
    free(path);
}

static void
test_truncated_pcap(void **state)
{
    char *path = path_of(state, "cut.pcap");
    uint64_t sec[] = { 10, 11 };
    uint32_t usec[] = { 0, 0 };
    write_pcap(path, DLT_EN10MB, PCAP_TSTAMP_PRECISION_MICRO, sec, usec, 2);
    /* 24-byte header + 2 x (16 + 60): cut 3 bytes of the last frame. */
    assert_int_equal(truncate(path, 24 + 2 * 76 - 3), 0);
    struct pcap_input *in;
    assert_null(pcap_input_open(path, &in));
    const struct pcap_input_pkt *p;
    assert_null(pcap_input_next(in, &p));
    assert_non_null(p);
    struct vnet_error *error = pcap_input_next(in, &p);
    assert_non_null(error);
    char *want = vnet_xasprintf("%s: packet 2: truncated dump file; tried to read 60 "
                                "captured bytes, only got 57", path);
    assert_string_equal(error->message, want);
    free(want);
    vnet_error_destroy(error);
    assert_null(pcap_input_next(in, &p));      /* nothing after the error */
    assert_null(p);
    pcap_input_close(in);

    /* Cut inside the second record's header. */
    assert_int_equal(truncate(path, 24 + 76 + 5), 0);
    assert_null(pcap_input_open(path, &in));
    assert_null(pcap_input_next(in, &p));
    error = pcap_input_next(in, &p);
    assert_non_null(error);
    want = vnet_xasprintf("%s: packet 2: truncated dump file; tried to read 16 header "
                          "bytes, only got 5", path);
    assert_string_equal(error->message, want);
    free(want);
    vnet_error_destroy(error);
    pcap_input_close(in);
    free(path);
}

static void
test_bad_files(void **state)
{
    char *path, *msg, *want;

    path = path_of(state, "raw.pcap");
    uint64_t sec[] = { 1 };
    uint32_t usec[] = { 0 };
    write_pcap(path, DLT_RAW, PCAP_TSTAMP_PRECISION_MICRO, sec, usec, 1);
    msg = open_error(path);
    want = vnet_xasprintf("%s: link type RAW (%d); expected Ethernet (EN10MB, 1) as "
                          "captured on a mirror port", path, DLT_RAW);
    assert_string_equal(msg, want);
    free(msg), free(want), free(path);

    path = path_of(state, "empty.pcap");
    write_bytes(path, "", 0);
    msg = open_error(path);
    want = vnet_xasprintf("%s: empty file (expected a pcap or pcapng capture)", path);
    assert_string_equal(msg, want);
    free(msg), free(want), free(path);

    path = path_of(state, "junk.pcap");
    write_bytes(path, "hello, world\n", 13);
    msg = open_error(path);
    want = vnet_xasprintf("%s: not a pcap or pcapng file (starts with 68 65 6c 6c)",
                          path);
    assert_string_equal(msg, want);
    free(msg), free(want), free(path);

    path = path_of(state, "short.pcap");
    write_bytes(path, "\xd4\xc3", 2);
    msg = open_error(path);
    want = vnet_xasprintf("%s: truncated file header (expected a pcap or pcapng "
                          "capture)", path);
    assert_string_equal(msg, want);
    free(msg), free(want), free(path);

    path = path_of(state, "hdr.pcap");
    write_bytes(path, "\xd4\xc3\xb2\xa1\x02\x00\x04\x00\x00\x00", 10);
    msg = open_error(path);
    want = vnet_xasprintf("%s: truncated pcap file header (10 of 24 bytes)", path);
    assert_string_equal(msg, want);
    free(msg), free(want), free(path);

    path = path_of(state, "missing.pcap");
    msg = open_error(path);
    want = vnet_xasprintf("%s: No such file or directory", path);
    assert_string_equal(msg, want);
    free(msg), free(want), free(path);

    /* A record claiming more captured bytes than the packet had. */
    path = path_of(state, "corrupt.pcap");
    write_pcap(path, DLT_EN10MB, PCAP_TSTAMP_PRECISION_MICRO, sec, usec, 1);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    uint8_t len_field[4];
    put32le(len_field, 50);                     /* orig len < caplen 60 */
    assert_int_equal(fseek(f, 24 + 12, SEEK_SET), 0);
    assert_int_equal(fwrite(len_field, 1, 4, f), 4);
    fclose(f);
    struct pcap_input *in;
    assert_null(pcap_input_open(path, &in));
    const struct pcap_input_pkt *p;
    struct vnet_error *error = pcap_input_next(in, &p);
    assert_non_null(error);
    want = vnet_xasprintf("%s: packet 1: corrupt record: 60 bytes captured of a "
                          "50-byte packet", path);
    assert_string_equal(error->message, want);
    free(want);
    vnet_error_destroy(error);
    pcap_input_close(in);
    free(path);
}

/* Timestamps going back are raised to keep time order, and counted. */
static void
test_backwards_timestamps(void **state)
{
    char *path = path_of(state, "back.pcap");
    uint64_t sec[] = { 5, 5, 5, 6 };
    uint32_t usec[] = { 10, 8, 12, 0 };
    write_pcap(path, DLT_EN10MB, PCAP_TSTAMP_PRECISION_MICRO, sec, usec, 4);
    struct pcap_input *in;
    assert_null(pcap_input_open(path, &in));
    uint64_t want[] = { 5000010000ULL, 5000010000ULL, 5000012000ULL, 6000000000ULL };
    for (size_t i = 0; i < 4; i++) {
        const struct pcap_input_pkt *p;
        assert_null(pcap_input_next(in, &p));
        assert_true(p->ts_ns == want[i]);
    }
    assert_int_equal(pcap_input_stats(in)->backwards, 1);
    assert_int_equal(pcap_input_stats(in)->snapped, 0);
    pcap_input_close(in);
    free(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_microsecond_pcap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nanosecond_pcap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pcapng, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_pcap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backwards_timestamps, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
