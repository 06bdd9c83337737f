#!/usr/bin/env python3
"""faults.py -- substrate faults while a chain is mirrored and shadowed with traffic.

Run by test-faults.sh.  For each fault -- restart ovsdb-server, restart ovs-vswitchd,
restart libvirtd, kill (destroy) the monitoring VNode, kill a shadow VNode -- with a
numbered stream running through production:

  - vnetd must report the affected VNet degraded in 'status' within 1 s of the
    fault (a health change stamped at most 1 s after it);
  - it must restore everything it owns: all VNets healthy again and the whole
    snapshot (registry, domains, OVS rows, rules, veths) equal to the one before;
  - production VNodes are never restarted, and the stream loses nothing -- except
    while ovs-vswitchd itself is down or without its database (the userspace
    datapath's forwarding stops with it), which is measured and reported.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from substrate import *   # noqa: E402,F401,F403 (the shared helpers)

DETECT_LIMIT_MS = 1000
RESTORE_LIMIT_S = 60


def health():
    return json.loads(vnetctl("--json", "status").stdout)["substrate"]["health"]


def wait_healthy(what):
    deadline = time.time() + RESTORE_LIMIT_S
    while True:
        h = health()
        bad = [v for v in h["vnets"] if v["state"] != "ok"]
        if not bad and len(h["vnets"]) == 3:
            return
        if time.time() > deadline:
            fail("%s: not restored in %d s: %s" % (what, RESTORE_LIMIT_S, bad or h))
        time.sleep(0.1)


def restart(daemon):
    run([HOST, "restart", "--isolated", E["SUB"], daemon])


def destroy(domain):
    run(["virsh", "-q", "-c", VIRSH_URI, "destroy", domain])


FAULTS = [   # (name, VNet that must be reported, action, loss expected)
    # ovs-vswitchd with the userspace datapath forwards nothing while it has no
    # database (it gives up its DB lock and stops running its bridges until it
    # reconnects, ~1-3 s with its back-off): that loss is the switch's, measured.
    ("ovsdb-server restart", "production", lambda: restart("ovsdb-server"), True),
    ("ovs-vswitchd restart", "production", lambda: restart("ovs-vswitchd"), True),
    ("libvirtd restart", "production", lambda: restart("libvirtd"), False),
    ("monitoring VNode killed", "monitoring",
     lambda: destroy("vnet-%s-monitor" % PROD), False),
    ("shadow VNode killed", "shadow", lambda: destroy("vnet-%s-vpn-b" % PROD), False),
]


def selected():
    """FAULTS="libvirtd,libvirtd,shadow" (names' first words, repeats allowed) runs
    those faults only, in that order: for chasing one that misbehaves."""
    if not E.get("FAULTS"):
        return FAULTS
    want = [w.strip() for w in E["FAULTS"].split(",") if w.strip()]
    out = [f for w in want for f in FAULTS if f[0].startswith(w)]
    if not out:
        fail("FAULTS=%s names none of: %s" % (E["FAULTS"], ", ".join(f[0] for f in FAULTS)))
    return out


def main():
    wait_healthy("before the faults")
    results = []
    prod_ids = production_ids()
    for name, vnet, action, may_lose in selected():
        before = stable_snapshot()
        out = os.path.join(T, "stream-%d.json" % len(results))
        sink, gen = start_stream(out)
        time.sleep(1)
        t0_ms = int(time.time() * 1000)
        event(name)
        action()
        # Detection: a health change of the VNet, stamped after the fault.
        detected = None
        deadline = time.time() + 10
        while detected is None and time.time() < deadline:
            for ev in health()["events"]:
                if (ev["chain"] == PROD and ev["vnet"] == vnet and ev["state"] == "degraded"
                        and ev["time_ms"] >= t0_ms):
                    detected = ev
                    break
            else:
                time.sleep(0.05)
        if detected is None:
            fail("%s: status never reported the %s VNet degraded" % (name, vnet))
        latency = detected["time_ms"] - t0_ms
        t_restore = time.time()
        wait_healthy(name)
        settle(before, what="%s: restoring" % name)
        restore_s = time.time() - t_restore + latency / 1000.0
        time.sleep(1)
        seq = stop_stream(sink, gen, out)
        if production_ids() != prod_ids:
            fail("%s: production VNodes were restarted: %s -> %s"
                 % (name, prod_ids, production_ids()))
        log("ok - %s: reported %s degraded after %d ms (\"%s\"); restored in %.1f s; "
            "stream %d/%d delivered" % (name, vnet, latency, detected.get("problem"),
                                        restore_s, seq["received"],
                                        seq["received"] + seq["lost"]))
        results.append({"fault": name, "vnet": vnet, "detect_ms": latency,
                        "problem": detected.get("problem"), "restore_s": round(restore_s, 2),
                        "lost": seq["lost"], "received": seq["received"],
                        "duplicates": seq["duplicates"]})
        if latency > DETECT_LIMIT_MS:
            fail("%s: reported after %d ms (limit %d)" % (name, latency, DETECT_LIMIT_MS))
        if seq["duplicates"] or (seq["lost"] and not may_lose):
            fail("%s: the production stream lost %d and duplicated %d packets"
                 % (name, seq["lost"], seq["duplicates"]))
    with open(os.path.join(T, "fault-results.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
