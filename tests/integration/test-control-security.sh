#!/bin/bash
# Control socket security against the real daemon: the socket's mode and group,
# who may read and who may change state (the daemon checks the peer's credentials,
# supplementary groups included, even if the socket file's mode is looser), request
# size and rate limits, a client that never reads its replies, and the limit on
# connections, with vnetd serving everyone else throughout.
# ctest: timeout=400 labels=security
source "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root to create a group and run clients as other users"
PY3=/usr/bin/python3        # readable by every user, unlike a per-user install
[ -x "$PY3" ] || PY3=$(command -v python3)
chmod 0711 "$T"             # other users reach the socket, not the files

# A group for the socket and a user who belongs to it only as a supplementary group
# (the usual "usermod -aG" membership); removed at exit.
G=vnetsec$$
M=vnetsecm$$
groupadd -r "$G"
on_exit "groupdel $G"
useradd -r -M -N -g nogroup -G "$G" -s /usr/sbin/nologin "$M"
on_exit "userdel $M"
as_member() { setpriv --reuid "$M" --regid nogroup --init-groups "$@"; }
as_primary_member() { setpriv --reuid nobody --regid "$G" --clear-groups "$@"; }
as_nobody() { setpriv --reuid nobody --regid nogroup --clear-groups "$@"; }

# wait_clients N : until vnetd counts N clients (the one asking included).
wait_clients() {
    for _ in $(seq 100); do
        "$VNETCTL" status 2>/dev/null | grep -q "($1 clients)" && return 0
        sleep 0.1
    done
    fail "vnetd still has clients other than expected: $("$VNETCTL" status)"
}

# vnetd's CPU time so far, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TICKS=$(getconf CLK_TCK)

cp "$VNET_SOURCE/templates/chains/fw-nat-vpn.json" "$T/fw-nat-vpn.json"
chmod 0644 "$T/fw-nat-vpn.json"

start_vnetd --no-substrate --socket-group "$G" --max-clients 8 --rate-limit 50
read -r mode owner group < <(stat -c '%a %U %G' "$VNET_SOCKET")
[ "$mode $owner $group" = "660 root $G" ] || fail "socket is $mode $owner:$group"
pass "socket mode 0660, owned by root and the configured group"

# A user outside the group cannot even connect...
expect_rc 1 as_nobody "$VNETCTL" status
grep -q "Permission denied (needs root or the control socket's group)" <<<"$ERR" \
    || fail "non-member status: $ERR"
expect_rc 1 as_nobody "$VNETCTL" chain load "$T/fw-nat-vpn.json"
# ...and if the socket file's mode were looser, vnetd itself still refuses.
chmod 0666 "$VNET_SOCKET"
expect_rc 2 as_nobody "$VNETCTL" status
grep -q "'status' needs root or the control socket's group (uid 65534 denied" <<<"$ERR" \
    || fail "non-member status through a loose socket: $ERR"
expect_rc 2 as_nobody "$VNETCTL" chain load "$T/fw-nat-vpn.json"
grep -q "'chain/load' needs root or the control socket's group" <<<"$ERR" \
    || fail "non-member chain load through a loose socket: $ERR"
chmod 0660 "$VNET_SOCKET"
expect_rc 0 "$VNETCTL" chain list
grep -q "no chains loaded" <<<"$OUT" || fail "a refused user changed state: $OUT"
pass "a non-member may neither read nor change state"

expect_rc 0 as_member "$VNETCTL" status
expect_rc 0 as_member "$VNETCTL" chain load "$T/fw-nat-vpn.json"
expect_rc 0 as_member "$VNETCTL" chain delete fw-nat-vpn
expect_rc 0 as_primary_member "$VNETCTL" chain load "$T/fw-nat-vpn.json"
expect_rc 0 "$VNETCTL" chain list
grep -q fw-nat-vpn <<<"$OUT" || fail "member's chain load: $OUT"
pass "a member (supplementary or primary group) may change state"

# An over-long request line closes that connection only; a client connected
# beside it is still served on its own connection.
"$PY3" - "$VNET_SOCKET" <<'PY'
import json, socket, sys
path = sys.argv[1]
other = socket.socket(socket.AF_UNIX); other.connect(path); other.settimeout(10)
big = socket.socket(socket.AF_UNIX); big.connect(path); big.settimeout(10)
line = b'{"jsonrpc":"2.0","id":1,"method":"status","params":{"x":"' + b"x" * (4 << 20) + b'"}}\n'
try:
    big.sendall(line)
except (BrokenPipeError, ConnectionResetError, socket.timeout):
    pass        # the daemon may hang up before it has read everything
buf = b""
while True:
    d = big.recv(65536)
    if not d:
        break
    buf += d
replies = [json.loads(l) for l in buf.split(b"\n") if l]
assert len(replies) == 1, replies
assert replies[0]["error"]["message"] == "message longer than 4194304 bytes", replies
other.sendall(b'{"jsonrpc":"2.0","id":2,"method":"status"}\n')
r = json.loads(other.makefile("rb").readline())
assert r["id"] == 2 and "result" in r, r
PY
expect_rc 0 "$VNETCTL" status
pass "an over-long request closes only its own connection"

# Over the rate limit (50 per second, bursts of 100), requests are answered at once
# with an error, not delayed; other connections are not affected.
"$PY3" - "$VNET_SOCKET" <<'PY'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(10)
n = 400
t0 = time.monotonic()
s.sendall(b"".join(b'{"jsonrpc":"2.0","id":%d,"method":"status"}\n' % i for i in range(n)))
f = s.makefile("rb")
replies = [json.loads(f.readline()) for _ in range(n)]
took = time.monotonic() - t0
ok = sum("result" in r for r in replies)
limited = [r for r in replies if r.get("error", {}).get("code") == -32002]
assert ok + len(limited) == n, replies
assert 100 <= ok < 200 and len(limited) > 200, (ok, len(limited))
assert "more than 50 requests per second on this connection" in limited[0]["error"]["message"]
assert limited[0]["error"]["data"]["tag"] == "busy", limited[0]
assert took < 5, took
other = socket.socket(socket.AF_UNIX); other.connect(sys.argv[1]); other.settimeout(5)
other.sendall(b'{"jsonrpc":"2.0","id":1,"method":"status"}\n')
assert "result" in json.loads(other.makefile("rb").readline())
time.sleep(1)      # the bucket refills: the same connection is served again
s.sendall(b'{"jsonrpc":"2.0","id":999,"method":"status"}\n')
assert "result" in json.loads(f.readline())
print("rate limit: %d served, %d refused in %.2f s" % (ok, len(limited), took))
PY
pass "rate limit answers with an error at once; other clients unaffected"

# status_latency LABEL : 200 'status' calls, each on a fresh connection, from a
# Python client (no process start-up in the figure); prints the quantiles and fails
# if any took more than 5 s.
status_latency() {
    "$PY3" - "$VNET_SOCKET" "$1" <<'PY'
import json, socket, sys, time
lat = []
for i in range(200):
    t0 = time.monotonic()
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(10)
    s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"status"}\n')
    assert "result" in json.loads(s.makefile("rb").readline())
    s.close()
    lat.append(time.monotonic() - t0)
lat.sort()
print("%s: status on a fresh connection: p50 %.2f ms, p99 %.2f ms, max %.2f ms"
      % (sys.argv[2], lat[100] * 1e3, lat[198] * 1e3, lat[-1] * 1e3))
assert lat[-1] < 5, lat[-1]
PY
}
status_latency "alone"

# A stuck client: it floods requests without reading a single reply until the
# daemon stops reading from it, then leaves half a request and holds on.
"$PY3" - "$VNET_SOCKET" "$T/stuck.ready" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.setblocking(False)
chunk = b'{"jsonrpc":"2.0","id":1,"method":"status"}\n' * 64
blocked_since = None
while True:
    try:
        s.send(chunk)
        blocked_since = None
    except BlockingIOError:
        blocked_since = blocked_since or time.monotonic()
        if time.monotonic() - blocked_since > 2:
            break
        time.sleep(0.01)
s.setblocking(True); s.settimeout(1)
try:
    s.send(b'{"jsonrpc":"2.0","id":2,"meth')
except (BlockingIOError, socket.timeout):
    pass
open(sys.argv[2], "w").close()
time.sleep(600)
PY
STUCK_PID=$!
on_exit "kill $STUCK_PID 2>/dev/null"
for _ in $(seq 600); do [ -e "$T/stuck.ready" ] && break; sleep 0.1; done
[ -e "$T/stuck.ready" ] || fail "the stuck client never filled its buffers"
c0=$(cpu_ticks "$VNETD_PID")
sleep 3
c1=$(cpu_ticks "$VNETD_PID")
idle_ms=$(( (c1 - c0) * 1000 / TICKS ))
[ "$idle_ms" -le 600 ] || fail "vnetd used $idle_ms ms of CPU in 3 s beside a stuck client"
start=$(date +%s%N)
for _ in $(seq 100); do
    "$VNETCTL" status >/dev/null || fail "status failed beside a stuck client"
done
took_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$took_ms" -le 60000 ] || fail "100 status calls took $took_ms ms beside a stuck client"
status_latency "beside a stuck client"
rss_kb=$(awk '/^VmRSS/ { print $2 }' "/proc/$VNETD_PID/status")
[ "$rss_kb" -le 200000 ] || fail "vnetd holds $rss_kb kB beside a stuck client"
echo "stuck client: vnetd CPU ${idle_ms} ms in 3 s; 100 status calls in ${took_ms} ms;" \
     "vnetd RSS ${rss_kb} kB"
kill "$STUCK_PID"
wait "$STUCK_PID" 2>/dev/null || true
wait_clients 1
pass "a stuck client blocks nobody and costs no CPU"

# Past --max-clients the next client gets a clear refusal; vnetd stays up.
"$PY3" - "$VNET_SOCKET" <<'PY'
import json, socket, sys
def connect():
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(10); return s
held = []
for i in range(8):
    s = connect()
    s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"status"}\n')
    assert "result" in json.loads(s.makefile("rb").readline())
    held.append(s)
s = connect()
r = json.loads(s.makefile("rb").readline())
assert r["error"]["message"] == "too many clients; try again later", r
assert r["error"]["data"]["tag"] == "busy", r
assert s.recv(100) == b"", "a refused connection stays open"
PY
expect_rc 0 "$VNETCTL" status
pass "max clients: the next connection is refused clearly, vnetd stays up"

# The refusal reaches vnetctl's user too.
"$PY3" - "$VNET_SOCKET" "$T/full.ready" <<'PY' &
import socket, sys, time
held = []
for i in range(8):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); held.append(s)
open(sys.argv[2], "w").close()
time.sleep(600)
PY
FULL_PID=$!
on_exit "kill $FULL_PID 2>/dev/null"
for _ in $(seq 100); do [ -e "$T/full.ready" ] && break; sleep 0.1; done
sleep 0.5
for _ in $(seq 20); do
    expect_rc 2 "$VNETCTL" status
    [ "$ERR" = "vnetctl: too many clients; try again later" ] || fail "refusal: $ERR"
done
kill "$FULL_PID"
wait "$FULL_PID" 2>/dev/null || true
for _ in $(seq 50); do "$VNETCTL" status >/dev/null 2>&1 && break; sleep 0.1; done
expect_rc 0 "$VNETCTL" status
pass "vnetctl reports the refusal and is served once a slot frees"
stop_pid "$VNETD_PID"

# --read-only-for-all: every user may read, only root and the group may change
# state, and readers leave the last quarter of the slots to them.
start_vnetd --no-substrate --socket-group "$G" --read-only-for-all --max-clients 8
[ "$(stat -c %a "$VNET_SOCKET")" = 666 ] || fail "read-only-for-all socket mode"
expect_rc 0 as_nobody "$VNETCTL" status
expect_rc 0 as_nobody "$VNETCTL" chain list
grep -q fw-nat-vpn <<<"$OUT" || fail "reader's chain list: $OUT"
expect_rc 2 as_nobody "$VNETCTL" chain delete fw-nat-vpn
grep -q "'chain/delete' changes state and needs root or the control socket's group" \
    <<<"$ERR" || fail "reader's chain delete: $ERR"
expect_rc 0 as_member "$VNETCTL" chain show fw-nat-vpn
pass "read-only-for-all: everyone reads, only root and the group change state"

mkdir -m 0777 "$T/pub"      # where the unprivileged client says it is ready
setpriv --reuid nobody --regid nogroup --clear-groups \
    "$PY3" - "$VNET_SOCKET" "$T/pub/readers.ready" <<'PY' &
import json, socket, sys, time
held = []
for i in range(6):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(10)
    s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"status"}\n')
    assert "result" in json.loads(s.makefile("rb").readline())
    held.append(s)
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(10)
r = json.loads(s.makefile("rb").readline())
assert r["error"]["message"].startswith("too many read-only clients"), r
open(sys.argv[2], "w").close()
time.sleep(600)
PY
READERS_PID=$!
on_exit "kill $READERS_PID 2>/dev/null"
for _ in $(seq 100); do [ -e "$T/pub/readers.ready" ] && break; sleep 0.1; done
[ -e "$T/pub/readers.ready" ] || fail "readers were not limited to 6 of 8 slots"
expect_rc 0 "$VNETCTL" chain delete fw-nat-vpn
expect_rc 0 as_member "$VNETCTL" status
kill "$READERS_PID"
wait "$READERS_PID" 2>/dev/null || true
pass "readers cannot take the slots root and the group need"

# Fewer file descriptors than --max-clients: the limit follows them, so a client
# past it is refused instead of waiting unanswered while accept() fails.
stop_pid "$VNETD_PID"
(ulimit -n 48; start_vnetd --no-substrate --socket-group "$G")
VNETD_PID=$(cat "$T/vnetd.pid")
on_exit "stop_pid $VNETD_PID"
grep -q "at most 24 clients" "$T/vnetd.log" || fail "max clients not lowered to the fd limit"
"$PY3" - "$VNET_SOCKET" <<'PY'
import json, socket, sys
held, refused = [], 0
for i in range(40):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(10)
    try:
        s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"status"}\n')
    except BrokenPipeError:
        pass        # refused before the request was sent: the reason is waiting
    r = json.loads(s.makefile("rb").readline())
    if "result" in r:
        held.append(s)
    else:
        assert r["error"]["message"] == "too many clients; try again later", r
        refused += 1
assert (len(held), refused) == (24, 16), (len(held), refused)
PY
expect_rc 0 "$VNETCTL" status
pass "out of file descriptors: clients refused clearly, never left hanging"
