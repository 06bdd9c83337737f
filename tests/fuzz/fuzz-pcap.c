/* fuzz-pcap.c -- diag/pcap-input.c: reading pcap, nanosecond pcap and pcapng files
 * for offline diagnosis, and diag/packet.c on every frame read, as offline.c does.
 *
 * Input: the capture file's bytes (written to a file in a private directory:
 * pcap_input_open() reads a path, like `vnetctl diagnose --offline DIR`).
 *
 * Checked, besides memory safety and leaks: a corrupt file is an error, not a
 * crash; after an error or the end, the reader only returns the end; every packet
 * has caplen <= len and its 'caplen' bytes are readable; timestamps never go
 * backwards; the statistics count what was returned. */
#include <stdlib.h>
#include <string.h>

#include "diag/packet.h"
#include "diag/pcap-input.h"
#include "lib/error.h"
#include "lib/util.h"
#include "tests/fuzz/fuzz.h"

static char *path;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    path = vnet_xasprintf("%s/capture", fuzz_tmpdir());
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write_file(path, data, size);
    struct pcap_input *in;
    struct vnet_error *error = pcap_input_open(path, &in);
    if (error) {
        fuzz_check(!strncmp(error->message, path, strlen(path)),
                   "errors name the file");
        vnet_error_destroy(error);
        return 0;
    }
    uint64_t n = 0, snapped = 0, last_ts = 0;
    const struct pcap_input_pkt *pkt;
    for (;;) {
        error = pcap_input_next(in, &pkt);
        if (error || !pkt) {
            break;
        }
        n++;
        fuzz_check(pkt->caplen <= pkt->len, "caplen <= len");
        fuzz_check(pkt->ts_ns >= last_ts, "time order");
        last_ts = pkt->ts_ns;
        snapped += pkt->caplen < pkt->len;
        /* Copied to a buffer of exactly 'caplen' bytes: ASan then checks both that
         * the reader's data is that long and that the parser stays inside it. */
        uint8_t *frame = vnet_xmemdup(pkt->data, pkt->caplen);
        struct packet_info info;
        packet_parse(frame, pkt->caplen, &info);
        free(frame);
    }
    vnet_error_destroy(error);
    fuzz_check(!pcap_input_next(in, &pkt) && !pkt, "only the end after the end");
    const struct pcap_input_stats *st = pcap_input_stats(in);
    fuzz_check(st->packets == n && st->snapped == snapped, "statistics");
    pcap_input_close(in);
    return 0;
}
