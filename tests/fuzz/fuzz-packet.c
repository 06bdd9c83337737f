/* fuzz-packet.c -- diag/packet.c, the frame parser behind hop matching.
 *
 * Input: one captured Ethernet frame; its size is the caplen.
 *
 * Checked, besides memory safety (packet.h: "parsing never reads outside
 * [frame, frame + caplen)"): the result is 0, -EPROTONOSUPPORT or -EBADMSG and
 * '*ret' is untouched on failure; keys are never 0; packet_parse_keys() with the
 * content key only agrees with packet_parse() and leaves the other keys 0; and
 * the keys leave out what forwarding changes: MAC addresses, and for an untagged
 * IPv4 frame its DSCP/ECN, TTL and header checksum. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "diag/packet.h"
#include "tests/fuzz/fuzz.h"

static int
parse(const uint8_t *frame, size_t len, unsigned keys, struct packet_info *info)
{
    memset(info, 0xa5, sizeof *info);
    struct packet_info before = *info;
    int err = packet_parse_keys(frame, len, keys, info);
    fuzz_check(!err || err == -EPROTONOSUPPORT || err == -EBADMSG, "error code");
    fuzz_check(!err || !memcmp(info, &before, sizeof *info), "untouched on failure");
    return err;
}

static void
check_same_keys(const struct packet_info *a, const uint8_t *frame, size_t size)
{
    struct packet_info b;
    fuzz_check(!parse(frame, size, PACKET_KEY_ALL, &b), "a forwarded copy parses");
    fuzz_check(a->content_key == b.content_key
               && a->invariant_key == b.invariant_key
               && a->invariant_noid_key == b.invariant_noid_key,
               "keys ignore what forwarding changes");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct packet_info all, content;
    int err = parse(data, size, PACKET_KEY_ALL, &all);
    fuzz_check(err == parse(data, size, PACKET_KEY_CONTENT, &content),
               "the keys asked for do not change the verdict");
    if (err) {
        return 0;
    }
    fuzz_check(all.content_key && all.invariant_key && all.invariant_noid_key,
               "keys are never 0");
    fuzz_check(all.flow_hash == packet_flow_hash(&all.flow), "flow hash");
    fuzz_check(content.content_key == all.content_key && !content.invariant_key
               && !content.invariant_noid_key && !content.flow_hash,
               "content-only parsing");
    fuzz_check(!memcmp(&content.flow, &all.flow, sizeof all.flow)
               && content.ip_len == all.ip_len && content.flags == all.flags,
               "content-only parsing fills the same fields");
    fuzz_check(all.l3 == PACKET_L3_IPV4 || all.l3 == PACKET_L3_IPV6, "l3");

    uint8_t *copy = malloc(size);
    memcpy(copy, data, size);
    for (size_t i = 0; i < 12; i++) {
        copy[i] ^= 0xff;
    }
    check_same_keys(&all, copy, size);
    if (copy[12] == 0x08 && copy[13] == 0x00 && size >= 14 + 20) {
        copy[14 + 1] ^= 0xff;       /* DSCP, ECN */
        copy[14 + 8] ^= 0xff;       /* TTL */
        copy[14 + 10] ^= 0xff;      /* header checksum */
        copy[14 + 11] ^= 0xff;
        check_same_keys(&all, copy, size);
    }
    free(copy);
    return 0;
}
