#!/usr/bin/env python3
"""crash-matrix.py -- kills vnetd at every internal step of every operation.

Run by test-crash.sh once the isolated substrate and a first vnetd are up.  For each
operation (chain create/delete, mirror, unmirror, shadow create/set, swap, rollback,
shadow retire) it

  1. brings the chains to the operation's starting state and records a snapshot of
     everything that should describe it: the registry's view of the chains and every
     libvirt domain, OVS bridge/port/interface/mirror row, OpenFlow rule and host
     veth that exists ("pre");
  2. runs the operation once with vnetd logging its crashpoints (lib/crashpoint.h),
     which says how many internal steps it has, and records the snapshot it ends in
     ("post"); undoes it;
  3. for every step k: restarts vnetd so that it dies by SIGKILL at step k, runs the
     operation, restarts vnetd normally and waits until the whole snapshot equals
     "pre" or "post" -- anything else (an orphaned or duplicated object, a registry
     that disagrees with the substrate, a half-done operation that never finishes) is
     a failure; an operation the client saw succeed must end in "post".  Undoes it.

Meanwhile a numbered UDP stream runs through the production chain fw-nat-vpn
(whose own VNodes must never be restarted); the caller checks it lost nothing.

Arguments come from the environment set by test-crash.sh.  CRASH_OPS (a
comma-separated subset) and CRASH_STRIDE (test every Nth step) narrow the run for
debugging; the test runs everything.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from substrate import *   # noqa: E402,F401,F403 (the shared helpers)

# ---- the operations --------------------------------------------------------------
# name: (ensure-pre, operation, undo)

STRIDE = int(E.get("CRASH_STRIDE", "1"))

OPS = [   # (name, operation, undo)
    ("chain-create", ["chain", "create", SCRATCH],
     ["chain", "delete", "--keep-template", SCRATCH]),
    ("chain-delete", ["chain", "delete", "--keep-template", SCRATCH],
     ["chain", "create", SCRATCH]),
    ("mirror", ["mirror", PROD], ["unmirror", PROD]),
    ("unmirror", ["unmirror", PROD], ["mirror", PROD]),
    ("shadow-create", ["shadow", "create", PROD], ["shadow", "retire", PROD]),
    ("shadow-set", ["shadow", "set", PROD, "vpn", "peak_pps=90000"],
     ["shadow", "set", PROD, "vpn", "peak_pps=100000"]),
    ("swap", ["swap", PROD], ["rollback", PROD]),
    ("rollback", ["rollback", PROD], ["swap", PROD]),
    ("shadow-retire", ["shadow", "retire", PROD], ["shadow", "create", PROD]),
]

# The state each operation starts from, reached by the operations before it.
SETUP = {
    # A chain keeps its ids once allocated: start from one created and torn down.
    "chain-create": [["chain", "create", SCRATCH],
                     ["chain", "delete", "--keep-template", SCRATCH]],
    "chain-delete": [["chain", "create", SCRATCH]],
    "mirror": [["chain", "delete", "--keep-template", SCRATCH]],
    "unmirror": [["mirror", PROD]],
    "shadow-create": [["unmirror", PROD]],
    "shadow-set": [["shadow", "create", PROD]],
    "swap": [],
    "rollback": [["swap", PROD]],
    "shadow-retire": [["rollback", PROD]],
}


def matrix(selected):
    results = []
    prod_ids = production_ids()
    for name, op, undo in OPS:
        for cmd in SETUP[name]:
            event(" ".join(cmd))
            vnetctl(*cmd)
        if selected and name not in selected:
            continue
        pre = stable_snapshot()
        restart_vnetd(crash_at=0)             # count the steps, kill nothing
        vnetctl(*op)
        steps = crash_steps()
        post = stable_snapshot()
        if post == pre:
            fail("%s changed nothing observable" % name)
        vnetctl(*undo)
        settle(pre, what="%s: undo after the counting run" % name)
        restart_vnetd()
        log("%s: %d steps: %s" % (name, len(steps), " ".join(steps)))
        killed = finished = rolled_back = 0
        t0 = time.time()
        for k in range(1, len(steps) + 1, STRIDE):
            event("%s step %d: restarting vnetd to crash" % (name, k))
            restart_vnetd(crash_at=k)
            ensure_libvirtd()
            event("%s step %d: vnetd started" % (name, k))
            pid = vnetd_pid()
            p = vnetctl(*op, check=False)
            acknowledged = p.returncode == 0
            for _ in range(40):     # the client may see the socket close first
                if not alive(pid) or acknowledged:
                    break
                time.sleep(0.05)
            if alive(pid):
                # The run took fewer steps than the counting run (steps merge when
                # the poll loop batches them); nothing was killed.
                log("  step %d: not reached (%s)" % (k, "ok" if acknowledged else p.stderr.strip()))
                settle(post, what="%s, step %d not reached" % (name, k))
                got = 1     # finished: undone below like any finished run
            else:
                killed += 1
                step = crash_steps()[-1] if crash_steps() else "?"
                event("%s step %d: killed at %s" % (name, k, step))
                start_vnetd()
                event("%s step %d: vnetd restarted" % (name, k))
                got = settle(pre, post, what="%s killed at step %d (%s)" % (name, k, step))
                if acknowledged and got == 0:
                    fail("%s killed at step %d (%s): acknowledged but rolled back"
                         % (name, k, step))
                if got == 1:
                    finished += 1
                else:
                    rolled_back += 1
            if production_ids() != prod_ids:
                fail("%s step %d: production VNodes were restarted: %s -> %s"
                     % (name, k, prod_ids, production_ids()))
            if got == 1:
                event("%s step %d: undo" % (name, k))
                vnetctl(*undo)
                settle(pre, what="%s step %d: undo" % (name, k))
        log("ok - %s: killed at %d of %d steps; after restart %d finished, %d rolled "
            "back, 0 orphans (%.0f s)" % (name, killed, len(steps), finished,
                                          rolled_back, time.time() - t0))
        results.append({"op": name, "steps": len(steps), "killed": killed,
                        "finished": finished, "rolled_back": rolled_back,
                        "seconds": round(time.time() - t0, 1)})
    return results


if __name__ == "__main__":
    sel = [s for s in E.get("CRASH_OPS", "").split(",") if s]
    sink, gen = start_stream()
    time.sleep(1)
    res = matrix(sel)
    f = stop_stream(sink, gen)
    log("production stream: %d received, %d lost, %d duplicated"
        % (f["received"], f["lost"], f["duplicates"]))
    with open(os.path.join(T, "crash-results.json"), "w") as out:
        json.dump({"ops": res, "stream": f,
                   "libvirtd_crashes": len(LIBVIRTD_CRASHES)}, out, indent=1)
    if f["lost"] or f["duplicates"]:
        fail("the production stream lost %d and duplicated %d packets"
             % (f["lost"], f["duplicates"]))
    if LIBVIRTD_CRASHES:
        fail("libvirtd died %d times during the matrix (see dmesg): vnetd must not "
             "make it crash" % len(LIBVIRTD_CRASHES))
