#!/bin/bash
# ctest: timeout=2400 labels=substrate;crash
# Crash consistency (issue 7): vnetd is killed with SIGKILL at every internal step
# (lib/crashpoint.h) of chain create/delete, mirror, unmirror, shadow create/set,
# swap, rollback and shadow retire, restarted, and must converge to the state before
# or after the operation -- registry and substrate alike, nothing orphaned or
# duplicated, acknowledged operations never lost -- while a numbered stream through
# the production chain loses nothing.  The matrix itself is crash-matrix.py.
source "$(dirname "$0")/lib.sh"
start_substrate
start_vnetd_restartable

expect_rc 0 "$VNETCTL" chain load "$VNET_SOURCE/templates/chains/fw-nat-vpn.json"
expect_rc 0 "$VNETCTL" chain create fw-nat-vpn
# A second chain for the create/delete rows: same shape, its own name.
python3 - "$VNET_SOURCE/templates/chains/fw-nat-vpn.json" "$T/crash-b.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
t["name"] = "crash-b"
json.dump(t, open(sys.argv[2], "w"))
PY
expect_rc 0 "$VNETCTL" chain load "$T/crash-b.json"

run_driver crash-matrix.py \
    || fail "crash matrix (vnetd log: $T/vnetd.log)"
python3 - "$T/crash-results.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ops = r["ops"]
print("ok - %d operations, %d steps, vnetd killed %d times; %d finished and %d rolled "
      "back after restart; 0 orphans; production stream %d/%d delivered" % (
      len(ops), sum(o["steps"] for o in ops), sum(o["killed"] for o in ops),
      sum(o["finished"] for o in ops), sum(o["rolled_back"] for o in ops),
      r["stream"]["received"], r["stream"]["received"] + r["stream"]["lost"]))
if r["libvirtd_crashes"]:
    print("note - libvirtd crashed %d times during the matrix and was restarted"
          % r["libvirtd_crashes"])
PY
