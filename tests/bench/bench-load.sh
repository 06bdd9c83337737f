#!/bin/bash
# bench-load.sh BUILD_DIR -- many mirrored chains on one host, many status clients.
#
# Creates LOAD_CHAINS (default 20) copies of fw-nat-vpn (3 NFs each) and mirrors
# each, on an isolated substrate; stops early at the first chain the host cannot
# hold and says how many it held.  Then:
#   - RPC latency: 'status' calls from 1 client (the baseline) and from LOAD_CLIENTS
#     (default 200) concurrent clients; prints p50/p99 and the ratio to the
#     baseline measured in the same run;
#   - soak: LOAD_SOAK_S seconds (default 600) of LOAD_SOAK_CLIENTS (default 20)
#     clients calling 'status' in a loop; vnetd's resident memory sampled every
#     10 s (first, last, max, growth);
#   - every VNet's health in 'status' at the end.
set -euo pipefail
source "$(dirname "$0")/lib-bench.sh"
bench_substrate load "${1:?usage: bench-load.sh BUILD_DIR}"
N=${LOAD_CHAINS:-20}
CLIENTS=${LOAD_CLIENTS:-200}
SOAK=${LOAD_SOAK_S:-600}
SOAK_CLIENTS=${LOAD_SOAK_CLIENTS:-20}

held=0
t0=$(now)
for i in $(seq -w 1 "$N"); do
    python3 - "$top/templates/chains/fw-nat-vpn.json" "$W/load-$i.json" "load-$i" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
t["name"] = sys.argv[3]
json.dump(t, open(sys.argv[2], "w"))
PY
    "$VNETCTL" chain load "$W/load-$i.json" >/dev/null
    if ! "$VNETCTL" chain create "load-$i" >/dev/null 2>"$W/err" \
        || ! "$VNETCTL" mirror "load-$i" >/dev/null 2>>"$W/err"; then
        echo "chain $i failed: $(cat "$W/err")"
        break
    fi
    held=$((10#$i))
done
echo "chains held: $held of $N (3 NFs + source + sink + monitoring VNode each;" \
     "$((held * 6)) containers), set up in $(( ($(now) - t0) / 1000000000 )) s"

python3 - "$VNET_SOCKET" "$W/vnetd.pid" "$CLIENTS" "$SOAK" "$SOAK_CLIENTS" <<'PY'
import json, socket, sys, threading, time

path, pidfile = sys.argv[1], sys.argv[2]
clients, soak, soak_clients = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
pid = int(open(pidfile).read())

def connect():
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    return s, s.makefile("rb")

def call(s, f, i):
    t = time.perf_counter()
    s.sendall(b'{"jsonrpc":"2.0","id":%d,"method":"status"}\n' % i)
    r = json.loads(f.readline())
    assert "result" in r, r
    return (time.perf_counter() - t) * 1e3

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]

def rss_kib():
    for l in open("/proc/%d/status" % pid):
        if l.startswith("VmRSS:"):
            return int(l.split()[1])

s, f = connect()
base = [call(s, f, i) for i in range(300)][50:]
s.close()

lat, errors, lock = [], [], threading.Lock()
start = threading.Barrier(clients)
def client(n, calls):
    try:
        c, cf = connect()
        start.wait()
        mine = [call(c, cf, i) for i in range(calls)]
        c.close()
        with lock:
            lat.extend(mine)
    except Exception as e:              # counted, reported
        with lock:
            errors.append(repr(e))
threads = [threading.Thread(target=client, args=(n, 20)) for n in range(clients)]
t0 = time.time()
for t in threads: t.start()
for t in threads: t.join()
wall = time.time() - t0
print("status RPC, 1 client: p50 %.2f ms, p99 %.2f ms" % (pct(base, 50), pct(base, 99)))
print("status RPC, %d concurrent clients x 20 calls: p50 %.2f ms, p99 %.2f ms, max %.1f ms "
      "(ratio p99 %.1f x the 1-client p99); %d calls in %.1f s; %d clients failed%s" % (
      clients, pct(lat, 50), pct(lat, 99), max(lat), pct(lat, 99) / pct(base, 99),
      len(lat), wall, len(errors), (": " + errors[0]) if errors else ""))

stop = time.time() + soak
samples, soak_lat = [(0, rss_kib())], []
def soaker():
    c, cf = connect()
    i = 0
    while time.time() < stop:
        x = call(c, cf, i); i += 1
        with lock:
            soak_lat.append(x)
        time.sleep(0.05)
    c.close()
ts = [threading.Thread(target=soaker) for _ in range(soak_clients)]
t0 = time.time()
for t in ts: t.start()
while time.time() < stop:
    time.sleep(min(10, max(0, stop - time.time())))
    samples.append((round(time.time() - t0), rss_kib()))
for t in ts: t.join()
r = [x[1] for x in samples]
print("soak %d s, %d clients (%d calls, p99 %.2f ms): vnetd RSS first %d KiB, last %d KiB, "
      "max %d KiB, growth %+d KiB (%+.1f %%)" % (
      soak, soak_clients, len(soak_lat), pct(soak_lat, 99), r[0], r[-1], max(r),
      r[-1] - r[0], 100.0 * (r[-1] - r[0]) / r[0]))
print("RSS samples (s, KiB): " + " ".join("%d:%d" % x for x in samples))
PY
"$VNETCTL" --json status >"$W/status.json"
python3 - "$W/status.json" <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))["substrate"]["health"]["vnets"]
bad = [v for v in h if v["state"] != "ok"]
print("health at the end: %d VNets, %d ok, %d degraded%s" % (
    len(h), len(h) - len(bad), len(bad), (": %s" % bad[:3]) if bad else ""))
PY
