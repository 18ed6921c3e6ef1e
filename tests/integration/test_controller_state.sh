#!/usr/bin/env bash
# ipop-controller's state files at start (issue 16): for each of node_id,
# addrpool.json, known_nodes and groups.json,
#   - damaged (cut in half) with a good last copy FILE.bak: the controller
#     starts, warns naming both, keeps the damage as FILE.bad and restores
#     FILE from the copy;
#   - damaged without a last copy: node_id, addrpool.json and known_nodes
#     stop the start with an error naming the file; groups.json (groups
#     can be rejoined) is an error naming the file, moved to
#     groups.json.bad, and the controller runs on;
# and a full disk (a 64 KiB tmpfs over StateDir, in a mount namespace of
# the test's own, `unshare -m`): no node id can be written, and the start
# fails naming node_id and the cause.
# No XMPP server and no tincan are needed: state is read before either is
# reached.  The kill -9 loop and ENOSPC on each writer are in the unit test
# test_state_files.
set -euo pipefail
. "$(dirname "$0")/controller_helpers.sh"
tc_skip_unless_ready
[ -x "$CONTROLLER" ] || { echo "skip: $CONTROLLER not built"; exit 77; }
command -v unshare >/dev/null || { echo "skip: unshare missing"; exit 77; }
netns_init
netns_host s
d=$(ct_dir s)
CT_XMPP_SERVER='"Host": "127.0.0.1", "Port": 5222,' CT_CA_FILE=/etc/ssl/certs/ca-certificates.crt \
  ct_config s social "" '"Subnet": "172.31.0.0/24", "Address": "172.31.0.1"'
st=$d/state
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$d/control.key"; echo >>"$d/control.key")
chown "$CT_USER" "$d/control.key"

# start: the controller in s, until it serves its control socket (0) or
# exits (1); its log in $d/controller.log.
start() {
  : >"$d/controller.log"
  ct_controller_start s
  wait_until 15 eval "grep -q 'control socket on' '$d/controller.log' || ! kill -0 ${CT_PID[s]} 2>/dev/null || wait__pid_gone ${CT_PID[s]}"
  grep -q 'control socket on' "$d/controller.log"
}
stop() { netns_kill "${CT_PID[s]}" 5; }
logged() { grep -qF -- "$1" "$d/controller.log"; }
damage() { truncate -s $(( $(stat -c %s "$1") / 2 )) "$1"; }

check "first start" start
stop
node=$(cat "$st/node_id")
check "node_id.bak is kept" cmp -s "$st/node_id" "$st/node_id.bak"

# Good files of the other kinds, as the controller writes them.
peer=0123456789abcdef0123456789abcdef
fpr="sha-256 $(printf 'AB:%.0s' $(seq 31))AB"
cat >"$st/addrpool.json" <<EOF
{"version": 1, "subnet": "172.31.0.0/24", "local": "172.31.0.1",
 "peers": [{"node_id": "$peer", "addr": "172.31.0.2"}]}
EOF
cat >"$st/known_nodes" <<EOF
# ipop-controller known_nodes v2: pinned DTLS fingerprints of friend nodes (docs/security.md)
# JID NODE-ID FINGERPRINT FIRST-SEEN LAST-SEEN
bob@xmpp.test $peer $fpr 1 2
carol@xmpp.test fedcba9876543210fedcba9876543210 $fpr 1 2
# end: 2 pins
EOF
cat >"$st/groups.json" <<EOF
{"version": 1, "groups": [{"name": "lab", "room": "lab@conference.xmpp.test",
 "subnet": "10.77.0.0/24", "role": "member"}]}
EOF
chmod 600 "$st/known_nodes" "$st/groups.json"
chown "$CT_USER" "$st"/*
rm -f "$st"/*.bak
check "starts with all four files" start
check "known_nodes: 2 pins loaded" logged "2 nodes pinned in $st/known_nodes"
check "groups.json: lab rejoined" logged "group lab (lab@conference.xmpp.test): rejoining"
stop
for f in node_id addrpool.json known_nodes groups.json; do
  check "$f.bak kept" cmp -s "$st/$f" "$st/$f.bak"
done

for f in node_id addrpool.json known_nodes groups.json; do
  echo "# $f damaged, with a good last copy"
  cp -p "$st/$f" "$d/good"
  damage "$st/$f"
  check "$f: starts" start
  check "$f: the warning names the file and its last copy" \
    logged "$st/$f.bak (the damaged file is kept as $st/$f.bad)"
  check "$f: the damage is kept as $f.bad" test -s "$st/$f.bad"
  check "$f: restored from the last copy" cmp -s "$st/$f" "$d/good"
  stop
  rm -f "$st/$f.bad"
done
check "the node id survived" test "$(cat "$st/node_id")" = "$node"

for f in node_id addrpool.json known_nodes; do
  echo "# $f damaged, no last copy"
  cp -p "$st/$f" "$d/good"
  cp -p "$st/$f.bak" "$d/good.bak"
  damage "$st/$f"
  rm "$st/$f.bak"
  if start; then check "$f: the start fails" false; stop; fi
  check "$f: the error names the file" grep -q "error.*$st/$f" "$d/controller.log"
  grep "error" "$d/controller.log" | head -n 2 | sed 's/^/#   /'
  check "$f: the damaged file is left in place" test -s "$st/$f"
  cp -p "$d/good" "$st/$f"
  cp -p "$d/good.bak" "$st/$f.bak"
done

echo "# groups.json damaged, no last copy"
damage "$st/groups.json"
rm "$st/groups.json.bak"
check "groups.json: the controller runs on" start
check "groups.json: an error names the file" \
  grep -q "error.*$st/groups.json.*no groups rejoined (the file is kept as groups.json.bad)" "$d/controller.log"
check "groups.json: moved aside" test -s "$st/groups.json.bad" -a ! -e "$st/groups.json"
stop

echo "# a full disk: StateDir on a 64 KiB tmpfs, filled"
full=$(unshare -m --propagation private bash -c '
  mount -t tmpfs -o size=64k,mode=0755 tmpfs "$1" && chown "$2" "$1" &&
  { dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null || true; } &&
  ip netns exec "$3" setpriv --reuid="$2" --regid=nogroup --clear-groups \
    timeout 10 "$4" -c "$5" 2>&1; echo "exit $?"' _ \
  "$st" "$CT_USER" "$(netns_ns s)" "$CONTROLLER" "$d/config.json")
sed -n '/error/p; /^exit/p' <<<"$full" | sed 's/^/#   /'
check "full disk: the start fails" grep -q '^exit 1$' <<<"$full"
check "full disk: the error names node_id and the cause" \
  grep -q "error.*$st/node_id.*No space left on device" <<<"$full"
check "the real StateDir was not touched" test "$(cat "$st/node_id")" = "$node"
[ "$TC_FAILS" -eq 0 ]
