/* fuzz-jsonrpc.c -- lib/jsonrpc.c: the framing of the control socket (one JSON
 * value per line) and the check of a JSON-RPC 2.0 request.
 *
 * Input: byte 0 sets the receiver's line limit (16 + 4 * byte: short enough that
 * over-long lines happen), byte 1 the size of the pieces the stream arrives in
 * (1 + byte); the rest is the byte stream a client sends.
 *
 * The stream is received twice, in one piece and in pieces, and each message goes
 * through jsonrpc_parse_request() as vnetd's control server does.  Checked,
 * besides memory safety and leaks: both receptions report the same sequence of
 * messages and errors (framing does not depend on how reads split the stream);
 * what is left pending is the same; a message serialises to exactly one line that
 * is received back as an equal message. */
#include <json-c/json.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/error.h"
#include "lib/jsonrpc.h"
#include "lib/util.h"
#include "tests/fuzz/fuzz.h"

/* 'line', a serialised message, is received back as the same message. */
static void
check_round_trip(const char *line, size_t len)
{
    struct jsonrpc_rx back;
    jsonrpc_rx_init(&back, 0);
    jsonrpc_rx_feed(&back, line, len);
    struct json_object *again = NULL;
    struct vnet_error *back_error = NULL;
    fuzz_check(jsonrpc_rx_next(&back, &again, &back_error) == JSONRPC_RX_MSG,
               "a serialised message is received");
    /* Compared as text: json-c reads NaN, which equals nothing. */
    char *line2 = jsonrpc_serialize(again, NULL);
    fuzz_check(!strcmp(line, line2), "and is the same message");
    free(line2);
    json_object_put(again);
    jsonrpc_rx_destroy(&back);
}

/* What a reception produced, as text: one line per event.  With 'round_trip',
 * also checks that each message is received back from its serialisation. */
static void
drain(struct jsonrpc_rx *rx, struct vnet_buf *log, bool round_trip)
{
    for (;;) {
        struct json_object *msg = NULL;
        struct vnet_error *error = NULL;
        enum jsonrpc_rx_status status = jsonrpc_rx_next(rx, &msg, &error);
        if (status == JSONRPC_RX_AGAIN) {
            return;
        }
        if (status != JSONRPC_RX_MSG) {
            fuzz_check(error && !msg, "an error comes with a message");
            vnet_buf_printf(log, "%d %s\n", (int) status, error->message);
            vnet_error_destroy(error);
            continue;
        }
        fuzz_check(msg && !error, "a message comes alone");
        size_t len;
        char *line = jsonrpc_serialize(msg, &len);
        fuzz_check(len && memchr(line, '\n', len) == line + len - 1,
                   "a message serialises to one line");
        vnet_buf_printf(log, "msg %s", line);
        if (round_trip) {
            check_round_trip(line, len);
        }
        free(line);

        const char *method;
        struct json_object *params, *id;
        error = jsonrpc_parse_request(msg, &method, &params, &id);
        if (error) {
            vnet_buf_printf(log, "invalid %s\n", error->message);
            vnet_error_destroy(error);
        } else {
            fuzz_check(method && (!params
                                  || json_object_is_type(params, json_type_object)
                                  || json_object_is_type(params, json_type_array)),
                       "a request's parts");
            /* A reply echoes the id (vnetd's server does this for every request). */
            json_object_put(jsonrpc_result(id, json_object_new_object()));
            vnet_buf_printf(log, "request %s\n", method);
        }
        json_object_put(msg);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    size_t max = 16 + 4 * (size_t) data[0];
    size_t piece = 1 + (size_t) data[1];
    data += 2;
    size -= 2;

    struct jsonrpc_rx whole, pieces;
    struct vnet_buf log_whole = VNET_BUF_INITIALIZER, log_pieces = VNET_BUF_INITIALIZER;
    jsonrpc_rx_init(&whole, max);
    jsonrpc_rx_init(&pieces, max);
    jsonrpc_rx_feed(&whole, data, size);
    drain(&whole, &log_whole, true);
    for (size_t off = 0; off < size; off += piece) {
        jsonrpc_rx_feed(&pieces, data + off, VNET_MIN(piece, size - off));
        drain(&pieces, &log_pieces, false);
    }
    char *a = vnet_buf_steal(&log_whole), *b = vnet_buf_steal(&log_pieces);
    fuzz_check(!strcmp(a, b), "framing does not depend on how reads split the stream");
    fuzz_check(jsonrpc_rx_pending(&whole) == jsonrpc_rx_pending(&pieces),
               "the same bytes are left pending");
    free(a);
    free(b);
    jsonrpc_rx_destroy(&whole);
    jsonrpc_rx_destroy(&pieces);
    return 0;
}
