/* Tests examples/traffic/payload.c: sequence stamps and RTP headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "examples/traffic/payload.h"

static void
test_stamp_roundtrip(void **state)
{
    uint8_t p[64];
    struct payload_stamp in = { .flow = 0xdeadbeef, .seq = 0x0123456789abcdefull,
                                .t_send_ns = 1234567890123ull }, out;
    payload_stamp_encode(p, &in);
    /* Big-endian on the wire: the magic reads "VNS1". */
    assert_memory_equal(p, "VNS1", 4);
    assert_int_equal(p[8], 0x01);
    assert_true(payload_stamp_decode(p, PAYLOAD_STAMP_LEN, &out));
    assert_int_equal(out.flow, in.flow);
    assert_int_equal(out.seq, in.seq);
    assert_int_equal(out.t_send_ns, in.t_send_ns);

    assert_false(payload_stamp_decode(p, PAYLOAD_STAMP_LEN - 1, &out));
    p[0] ^= 1;
    assert_false(payload_stamp_decode(p, sizeof p, &out));
}

static void
test_rtp_roundtrip(void **state)
{
    uint8_t p[PAYLOAD_RTP_LEN];
    struct payload_rtp in = { .pt = 0, .seq = 65535, .timestamp = 0xfffffff0u,
                              .ssrc = 0x11223344, .has_send_time = true,
                              .t_send_ns = 987654321012ull }, out;
    payload_rtp_encode(p, &in);
    assert_int_equal(p[0], 0x90);                     /* V=2, X=1 */
    assert_int_equal(p[1], 0);                        /* PCMU */
    assert_int_equal(p[12], 0xbe);
    assert_int_equal(p[13], 0xde);
    assert_int_equal(p[PAYLOAD_RTP_LEN - 1], 0xff);   /* mu-law silence */
    assert_true(payload_rtp_decode(p, sizeof p, &out));
    assert_int_equal(out.seq, 65535);
    assert_int_equal(out.timestamp, 0xfffffff0u);
    assert_int_equal(out.ssrc, 0x11223344);
    assert_false(out.marker);
    assert_true(out.has_send_time);
    assert_int_equal(out.t_send_ns, in.t_send_ns);

    /* Without the extension: plain RTP, no send time. */
    in.has_send_time = false;
    in.marker = true;
    in.pt = 8;
    payload_rtp_encode(p, &in);
    assert_int_equal(p[0], 0x80);
    assert_true(payload_rtp_decode(p, sizeof p, &out));
    assert_false(out.has_send_time);
    assert_true(out.marker);
    assert_int_equal(out.pt, 8);
}

static void
test_rtp_rejects_and_tolerates(void **state)
{
    uint8_t p[PAYLOAD_RTP_LEN];
    struct payload_rtp in = { .seq = 7, .has_send_time = true, .t_send_ns = 5 }, out;
    payload_rtp_encode(p, &in);
    assert_false(payload_rtp_decode(p, 11, &out));            /* truncated */
    /* The extension cut off: still RTP, no send time. */
    assert_true(payload_rtp_decode(p, 20, &out));
    assert_false(out.has_send_time);
    p[0] = 0x50;                                              /* version 1 */
    assert_false(payload_rtp_decode(p, sizeof p, &out));
    /* Two CSRCs shift the extension; a header claiming CSRCs beyond the data fails. */
    uint8_t q[PAYLOAD_RTP_LEN + 8];
    payload_rtp_encode(p, &in);
    memcpy(q, p, 12);
    memset(q + 12, 0, 8);
    memcpy(q + 20, p + 12, PAYLOAD_RTP_LEN - 12);
    q[0] = 0x92;
    assert_true(payload_rtp_decode(q, sizeof q, &out));
    assert_true(out.has_send_time);
    assert_int_equal(out.t_send_ns, 5);
    q[0] = 0x9f;
    assert_false(payload_rtp_decode(q, 40, &out));
    /* A foreign extension profile or element is ignored. */
    payload_rtp_encode(p, &in);
    p[12] = 0x10;
    assert_true(payload_rtp_decode(p, sizeof p, &out));
    assert_false(out.has_send_time);
    payload_rtp_encode(p, &in);
    p[16] = 0x27;                                             /* ID 2 */
    assert_true(payload_rtp_decode(p, sizeof p, &out));
    assert_false(out.has_send_time);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stamp_roundtrip),
        cmocka_unit_test(test_rtp_roundtrip),
        cmocka_unit_test(test_rtp_rejects_and_tolerates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
