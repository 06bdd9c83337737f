"""substrate.py -- shared by the Python integration drivers (crash-matrix.py,
faults.py): vnetd restarts, snapshots of everything vnet owns on the test's own
substrate, and a numbered production stream through fw-nat-vpn.

Everything comes from the environment the calling test script sets (see
test-crash.sh).  Processes are only ever signalled by the PIDs this code started
(or vnetd's, from its pidfile).
"""
import atexit
import json
import os
import signal
import subprocess
import sys
import time

E = os.environ
VNETD, VNETCTL, VIRSH_URI = E["VNETD"], E["VNETCTL"], E["LIBVIRT_URI"]
T, OVSDB, NETNS = E["T"], E["OVSDB"], E["SUB_NETNS"]
VNETD_ARGS = json.loads(E["VNETD_ARGS"])
PIDFILE = os.path.join(T, "vnetd.pid")
CRASH_LOG = os.path.join(T, "crash.log")
PROD, SCRATCH = "fw-nat-vpn", "crash-b"
SETTLE_S = 60


EVENTS = []     # (monotonic time, what): to place the stream's gaps


def log(msg):
    print(msg, flush=True)


def event(what):
    EVENTS.append((time.monotonic(), what))


def fail(msg):
    print("FAIL - " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def run(args, check=True, env=None, timeout=180):
    p = subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout)
    if check and p.returncode:
        fail("%s exited %d: %s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p


def vnetctl(*args, check=True):
    return run([VNETCTL] + list(args), check=check)


# ---- vnetd ---------------------------------------------------------------------

def vnetd_pid():
    with open(PIDFILE) as f:
        return int(f.read())


def alive(pid):
    """True unless 'pid' is gone or a zombie (a detached vnetd killed by SIGKILL
    stays a zombie until whoever adopted it reaps it)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def stop_vnetd():
    pid = vnetd_pid()
    if not alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if not alive(pid):
            return
        time.sleep(0.05)
    fail("vnetd %d did not stop at SIGTERM" % pid)


def start_vnetd(crash_at=None):
    env = dict(os.environ)
    env.pop("VNETD_TEST_CRASH_AT", None)
    env.pop("VNETD_TEST_CRASH_LOG", None)
    if crash_at is not None:
        env["VNETD_TEST_CRASH_LOG"] = CRASH_LOG
        if crash_at:
            env["VNETD_TEST_CRASH_AT"] = str(crash_at)
        if os.path.exists(CRASH_LOG):
            os.unlink(CRASH_LOG)
    run([VNETD] + VNETD_ARGS + ["--detach"], env=env)
    # Ready once it has observed the substrate: every VNet it knows is healthy
    # (until then it refuses, for instance, a swap to a side it cannot yet see).
    deadline = time.time() + 10
    while time.time() < deadline:
        st = json.loads(vnetctl("--json", "status").stdout)
        vnets = st.get("substrate", {}).get("health", {}).get("vnets", [])
        if vnets and all(v["state"] == "ok" for v in vnets):
            break
        time.sleep(0.05)


def restart_vnetd(crash_at=None):
    stop_vnetd()
    start_vnetd(crash_at)


def crash_steps():
    try:
        with open(CRASH_LOG) as f:
            return [l.split()[1] for l in f if l.strip()]
    except FileNotFoundError:
        return []


# ---- libvirtd ------------------------------------------------------------------

HOST = os.path.join(E["VNET_SOURCE"], "scripts", "vnet-host.sh")
LIBVIRTD_CRASHES = []   # times libvirtd was found dead and restarted


def ensure_libvirtd():
    """libvirtd 9.0 segfaults when a stopped LXC domain's scheduler parameters are
    read (vnetd did that for a VNode that stopped right after starting; it no
    longer does, see test-libvirt-faults).  Should libvirtd die anyway, this
    restarts it as its supervisor would, and the crash is counted and reported,
    not hidden."""
    try:
        with open(os.path.join(E["SUB"], "libvirt", "libvirtd.pid")) as f:
            pid = int(f.read())
    except (OSError, ValueError):
        pid = 0
    if pid and alive(pid):
        return
    log("libvirtd (pid %d) is gone; restarting it as its supervisor would" % pid)
    event("libvirtd restarted")
    LIBVIRTD_CRASHES.append(time.time())
    run([HOST, "restart", "--isolated", E["SUB"], "libvirtd"])


# ---- snapshots -----------------------------------------------------------------

DRAIN_UNTIL_MS = {}     # chain: when its swap's drain period ends (wall clock, ms)


def registry_view(name):
    p = vnetctl("--json", "chain", "show", name, check=False)
    DRAIN_UNTIL_MS.pop(name, None)
    if p.returncode:
        return None
    j = json.loads(p.stdout)
    for k in ("instance", "loaded_at"):
        j.pop(k, None)
    if j.get("shadow"):
        j["shadow"].pop("swaps", None)      # a counter: every swap and undo adds one
        # A time, for a second after a swap; while it lasts the old side's exits
        # still deliver (their rules differ), so stable_snapshot waits it out.
        DRAIN_UNTIL_MS[name] = j["shadow"].pop("drain_until_ms", 0)
    return j


def snapshot():
    ensure_libvirtd()
    s = {}
    s["registry"] = {c: registry_view(c) for c in (PROD, SCRATCH)}
    doms = run(["virsh", "-q", "-c", VIRSH_URI, "list", "--all"]).stdout.split("\n")
    s["domains"] = sorted(" ".join(l.split()[1:]) for l in doms if l.strip())
    vs = ["ovs-vsctl", "--db=unix:" + OVSDB, "--timeout=10", "-f", "csv",
          "--no-headings", "--columns=name"]
    for table in ("Bridge", "Port", "Interface", "Mirror"):
        s[table] = sorted(run(vs + ["list", table]).stdout.split())
    flows = run(["ovs-ofctl", "-O", "OpenFlow15", "--no-stats", "dump-flows",
                 "vnet-br0"], check=False).stdout
    s["flows"] = sorted(l.strip() for l in flows.split("\n")
                        if l.strip() and not l.startswith("OFPST"))
    links = run(["ip", "-n", NETNS, "-o", "link", "show"]).stdout.split("\n")
    s["veths"] = sorted(l.split(":")[1].strip().split("@")[0] for l in links
                        if l.strip() and l.split(":")[1].strip().startswith("vn"))
    return s


def jdiff(a, b, path="$"):
    """Where two JSON values differ, as 'path: a != b' lines."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += jdiff(a.get(k, "<absent>"), b.get(k, "<absent>"), "%s.%s" % (path, k))
        return out
    if a != b:
        return ["%s: %s != %s" % (path, json.dumps(a)[:200], json.dumps(b)[:200])]
    return []


def diff(a, b):
    out = []
    for k in a:
        if a[k] == b[k]:
            continue
        if k == "registry":
            out += jdiff(a[k], b[k], "registry")[:8]
        elif set(a[k]) == set(b[k]):
            out.append("%s: duplicates %s" % (k, [x for x in a[k] if a[k].count(x) > 1]))
        else:
            out.append("%s: only now %s; missing %s" % (
                k, sorted(set(a[k]) - set(b[k]))[:6], sorted(set(b[k]) - set(a[k]))[:6]))
    return "; ".join(out)


def settle(*want, what=""):
    """Waits until the snapshot equals one of 'want'; returns its index."""
    deadline = time.time() + SETTLE_S
    while True:
        s = snapshot()
        for i, w in enumerate(want):
            if s == w:
                return i
        if time.time() > deadline:
            fail("%s: did not converge to a consistent state in %d s: %s"
                 % (what, SETTLE_S, " | ".join(diff(s, w) for w in want)))
        time.sleep(0.3)


def stable_snapshot():
    """A snapshot that no longer changes (after an operation that replied early) and
    is not taken during a swap's drain period: two snapshots 0.5 s apart can both
    fall within that second, and its rules are gone once it is over."""
    prev = None
    deadline = time.time() + SETTLE_S
    while time.time() < deadline:
        s = snapshot()
        left = max(DRAIN_UNTIL_MS.values(), default=0) / 1000.0 - time.time()
        if left > 0:
            time.sleep(left + 0.2)
            prev = None
            continue
        if s == prev:
            return s
        prev = s
        time.sleep(0.5)
    fail("the substrate did not settle")


# ---- production VNodes: never restarted -----------------------------------------

def production_ids():
    ids = {}
    for l in run(["virsh", "-q", "-c", VIRSH_URI, "list"]).stdout.split("\n"):
        f = l.split()
        if len(f) >= 2 and f[1].startswith("vnet-%s-" % PROD) and "-b" not in f[1][-2:] \
                and not f[1].endswith("-monitor"):
            ids[f[1]] = f[0]
    return ids


# ---- the production stream ------------------------------------------------------

GEN, SINK = E["VNET_GEN"], E["VNET_SINK"]
STREAM = os.path.join(T, "stream.json")


def exec_in(node, argv, **kw):
    return subprocess.Popen([VNETCTL, "chain", "exec", PROD, node, "--"] + argv, **kw)


def descendants(pid):
    """PIDs of the processes under 'pid' (which this script started)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for task in os.listdir("/proc/%d/task" % p):
                with open("/proc/%d/task/%s/children" % (p, task)) as f:
                    kids = [int(x) for x in f.read().split()]
                out += kids
                todo += kids
        except FileNotFoundError:
            pass
    return out


_RUNNING = []   # programs started in VNodes, stopped at exit whatever happens


@atexit.register
def _stop_leftovers():
    """A failing driver exits through fail(): its stream must not outlive it (it
    would hold ctest's output pipe open and keep sending)."""
    for proc in _RUNNING:
        if proc.poll() is None:
            try:
                stop(proc)
            except Exception:       # it must go, with everything under it
                for pid in reversed(descendants(proc.pid)):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                proc.kill()


def start_stream(out=STREAM):
    """A numbered 1 kpps (STREAM_PPS) UDP stream from source to sink; returns the
    sink's and the generator's processes for stop()."""
    err = open(os.path.join(T, "stream-sink.err"), "w+")
    sink = exec_in("sink", [SINK, "--out", out, "--dev", "eth0"], stderr=err,
                   stdout=subprocess.DEVNULL)
    _RUNNING.append(sink)
    for _ in range(100):
        err.seek(0)
        if "ready" in err.read():
            break
        time.sleep(0.1)
    else:
        fail("vnet-sink did not start")
    gen = exec_in("source", [GEN, "--dev", "eth0", "--dst-mac", "02:76:6e:00:00:01",
                             "--src", "10.70.0.10", "--dst", "10.70.0.20", "--dport",
                             "7000", "--seq", "--rate", E.get("STREAM_PPS", "1000"),
                             "--duration", "10800s"],
                  stdout=subprocess.DEVNULL)
    _RUNNING.append(gen)
    time.sleep(1)
    if gen.poll() is not None:     # e.g. 'chain exec' could not enter the VNode
        fail("the stream's generator exited at once (status %d)" % gen.returncode)
    return sink, gen


def stop(proc):
    """Stops a program started with exec_in: SIGTERM to the program itself (the
    innermost process under vnetctl), which then reports and exits."""
    leaves = descendants(proc.pid)
    if leaves:
        os.kill(leaves[-1], signal.SIGTERM)
    proc.wait(timeout=30)


def stop_stream(sink, gen, out=STREAM):
    """Stops the stream; returns its "seq" figures and logs where its gaps were
    (next to the events recorded before each)."""
    event("stopping the stream")
    stop(gen)
    time.sleep(1)
    stop(sink)
    f = [f for f in json.load(open(out))["flows"] if f["dport"] == 7000][0]["seq"]
    for gap in f.get("gaps", []):
        before = [e for e in EVENTS if e[0] <= gap["monotonic_s"]][-3:]
        wall = time.strftime("%H:%M:%S", time.gmtime(
            gap["monotonic_s"] + time.time() - time.monotonic()))
        log("gap of %d packets at %.3f (%s UTC); events before it: %s" % (
            gap["count"], gap["monotonic_s"], wall,
            "; ".join("%.3f %s" % e for e in before)))
    return f
