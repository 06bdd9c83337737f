/* rpc-client.h -- a blocking JSON-RPC client for vnetd's control socket.
 *
 * Used by vnetctl and by tests.  One call at a time; each call waits for the
 * response with the same id, up to a timeout. */
#ifndef VNET_RPC_CLIENT_H
#define VNET_RPC_CLIENT_H 1

struct json_object;
struct rpc_client;
struct vnet_error;

/* Connects to the unix socket 'path'.  Returns 0 and '*ret_client', or -errno
 * (-ENOENT / -ECONNREFUSED when no daemon listens). */
int rpc_client_open(const char *path, struct rpc_client **ret_client);
void rpc_client_close(struct rpc_client *);

/* Sends 'method' with 'params' (ownership taken; NULL for none) and waits up to
 * 'timeout_ms' (<= 0: forever) for the answer.  Returns:
 *    0  '*ret_result' holds the result (caller puts it);
 *    1  the daemon answered with an error, or refused the connection with one
 *       (an error without an id): '*ret_error' says what (caller frees);
 *   <0  -errno on transport failure (-ETIMEDOUT, -EPIPE, -EPROTO for a reply
 *       that is not JSON-RPC). */
int rpc_client_call(struct rpc_client *, const char *method, struct json_object *params,
                    int timeout_ms, struct json_object **ret_result,
                    struct vnet_error **ret_error);

#endif
