#!/usr/bin/env bash
# ipopctl against the real daemons, in two namespaces: every tincan
# subcommand round-trips (overlay with a real TAP, candidates, a link
# between two tincans built from `candidates -j` files, link-stats, address
# mappings, logging, events, removal); the controller's commands; --json
# prints one document that jq parses, for every command; exit codes for
# usage (2), a daemon's error (1, the argument named), not running (3),
# wrong key (4) and local problems (5); --config / $IPOP_CONFIG.
# wait and connect: `connect` links the two tincans with one command per
# side (run at once, each waiting for the other's file); `wait link`,
# `wait overlay`, `wait peers` meet their condition (exit 0) or hit the
# deadline (exit 6, the last state named), never-answering daemons (3),
# wrong key (4) and bad arguments (2, named).
#
# The group/block commands (issue #7): until ipop-controller serves them it
# answers unknown_command, and we check the readable error and exit 1; once
# it does, we check that the answers parse.  Their happy path with real XMPP
# rooms is covered by the end-to-end group tests (test_controller_groups.sh
# and the XMPP layer's test_xmpp_muc_*.sh), which drive them with ipopctl.
set -euo pipefail
. "$(dirname "$0")/tincan_helpers.sh"
tc_skip_unless_ready
command -v jq >/dev/null || { echo "skip: needs jq"; exit 77; }
CONTROLLER=$IPOP_BUILD_DIR/controller/ipop-controller
[ -x "$CONTROLLER" ] || { echo "skip: $CONTROLLER not built"; exit 77; }
netns_init

netns_segment pub
netns_host a; netns_attach a pub 198.18.0.11/24
netns_host b; netns_attach b pub 198.18.0.12/24
tc_start a
tc_start b
A=$(tc_dir a); B=$(tc_dir b)

# The controller in a, without XMPP: enough for status/peers/stats and for
# the group/block requests to be answered.
cat >"$A/controller.json" <<JSON
{ "Control": { "Tincan": "127.0.0.1:5800", "Controller": "127.0.0.1:5801",
               "KeyFile": "$A/control.key" },
  "Controller": { "StateDir": "$A/state", "AllowRoot": true, "Log": { "Level": "debug" } } }
JSON
netns_spawn a "$A/controller.log" "$CONTROLLER" -c "$A/controller.json"
CPID=$NETNS_LAST_PID

# ipopctl in a finds endpoints and key through --config; in b through
# $IPOP_CONFIG.  Output: stdout to $out, stderr to $err, exit code to $rc.
out=; err=; rc=0
ctl_a() { run_in a --config "$A/config.json" "$@"; }
ctl_b() { run_in b "$@"; }
run_in() {
  local h=$1; shift
  set +e
  out=$(netns_exec "$h" env IPOP_CONFIG="$(tc_dir "$h")/config.json" "$IPOPCTL" "$@" \
        2>"$NETNS_TMPDIR/stderr"); rc=$?
  set -e
  err=$(cat "$NETNS_TMPDIR/stderr")
}
# expect RC DESCRIPTION: the last command's exit code.
expect() { check "$2 (exit $1, got $rc${err:+: $err})" test "$rc" = "$1"; }
# is_one_json: stdout is exactly one JSON document.
is_one_json() { [ "$(jq -s length <<<"$out" 2>/dev/null)" = 1 ]; }
jqe() { jq -e "$1" <<<"$out" >/dev/null; }
has_err() { grep -Eq -- "$1" <<<"$err"; }

check "controller answers echo (via --config)" wait_until 10 netns_exec a "$IPOPCTL" \
  --config "$A/controller.json" -T 0.5 echo ready

# ---- help and usage ----------------------------------------------------
ctl_a --help; expect 0 "--help"
check "--help lists the group commands" grep -q "group invite" <<<"$out"
for c in echo call status peers links stats "group list" "group create" "group invite" \
         "group join" "group leave" "group remove" block unblock blocklist create-overlay \
         overlay-info remove-overlay candidates create-link remove-link link-stats \
         add-mapping remove-mapping configure-logging register listen; do
  # shellcheck disable=SC2086
  ctl_a help $c
  [ "$rc" = 0 ] && grep -q "^usage: ipopctl .*${c#* }" <<<"$out" || check "help $c" false
  # shellcheck disable=SC2086
  ctl_a $c --help
  [ "$rc" = 0 ] && grep -q "^usage: " <<<"$out" || check "$c --help" false
done
check "help and --help for all 27 commands" true

ctl_a frobnicate; expect 2 "unknown command"
check "  ... is named" has_err 'unknown command "frobnicate"'
ctl_a group; expect 2 "group without a subcommand"
check "  ... lists the group commands" has_err "ipopctl group create NAME"
ctl_a create-overlay --overlay ov --node node-a; expect 2 "missing --tap"
check "  ... names --tap" has_err "create-overlay: --tap NAME is required"
ctl_a candidates --overlay 'o v' --peer x; expect 2 "bad overlay id"
check "  ... names --overlay" has_err '--overlay "o v"'
ctl_a create-overlay --overlay ov --node n --tap t --mtu 70000; expect 2 "MTU out of range"
check "  ... names --mtu" has_err '--mtu "70000"'
ctl_a group create Lab; expect 2 "bad group name"
check "  ... names NAME" has_err 'NAME "Lab"'
ctl_a group create lab --subnet 10.254.7.9/24; expect 2 "subnet with host bits"
check "  ... suggests the network" has_err "did you mean 10.254.7.0/24"
ctl_a block 'carol@example.org/phone'; expect 2 "full JID for block"
ctl_a -t status; expect 2 "-t with a controller command"
check "  ... says drop -t" has_err "drop -t"
ctl_a -T 0 echo; expect 2 "--timeout 0"
ctl_a call echo '{"message":'; expect 2 "call with broken JSON"
check "nothing on stdout after usage errors" test -z "$out"

# ---- local problems (5), not running (3), wrong key (4) -------------------
ctl_a --config "$A/nonexistent.json" status; expect 5 "--config FILE missing"
check "  ... names the file" has_err "nonexistent.json"
ctl_a -k "$A/nonexistent.key" echo; expect 5 "key file missing"
check "  ... names the key file" has_err "nonexistent.key"
ctl_a -s 127.0.0.1:5899 echo; expect 3 "nothing listens on the port"
check "  ... says it is not running" has_err "nothing listens on 127.0.0.1:5899: ipop-controller is not running"
# a socket that is bound but never answers: the timeout path
netns_spawn a "$NETNS_TMPDIR/silent.log" python3 -c \
  'import socket,time; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",5898)); time.sleep(600)'
SILENT=$NETNS_LAST_PID
wait_until 10 wait__ss_has a -lnu 5898 || true
t0=$(wait__now_ms)
ctl_a -t -s 127.0.0.1:5898 -T 1 echo; expect 3 "silent daemon"
t1=$(wait__now_ms)
check "  ... after about the timeout ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 4000
check "  ... readable" has_err "ipop-tincan at 127.0.0.1:5898 did not answer within 1 s \(is it running\? check -s / Control.Tincan"
t0=$(wait__now_ms)
ctl_a -t -s 127.0.0.1:5898 -T 0.3 wait overlay --overlay ov --deadline 1; expect 3 "wait against a silent daemon"
t1=$(wait__now_ms)
check "  ... at the deadline ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 3000
check "  ... says it did not answer within the deadline" has_err "did not answer within 1 s"
netns_kill "$SILENT"
ctl_a -t -s 127.0.0.1:5897 wait overlay --overlay ov --deadline 1; expect 3 "wait: nothing ever listened"
check "  ... says it is not running" has_err "nothing listens on 127.0.0.1:5897"
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$A/wrong.key"; echo >>"$A/wrong.key")
ctl_a -k "$A/wrong.key" status; expect 4 "wrong key (controller)"
check "  ... authentication failed: wrong key file?" has_err "authentication failed: wrong key file\?"
run_in a --config "$A/config.json" -t echo; expect 0 "tincan echo via --config"
set +e
out=$(netns_exec a env IPOP_CONTROL_KEY="$A/wrong.key" "$IPOPCTL" --config "$A/config.json" \
      link-stats 2>&1); rc=$?
set -e
check "wrong key from \$IPOP_CONTROL_KEY beats the config: exit 4 (got $rc)" test "$rc" = 4
check "  ... names where the key came from" grep -q 'IPOP_CONTROL_KEY' <<<"$out"

# ---- tincan: every subcommand ------------------------------------------
ctl_a -j create-overlay --overlay ov --node node-a --tap ipop0 --ip4 10.254.0.1/24 --mtu 1400
expect 0 "create-overlay in a"
check "  ... JSON with our TAP and MTU" jqe '.tap_name == "ipop0" and .mtu == 1400 and (.fingerprint | startswith("sha-256 "))'
check "  ... TAP ipop0 has 10.254.0.1/24 and MTU 1400" \
  sh -c "ip -n $(netns_ns a) addr show ipop0 | grep -q 'mtu 1400' && ip -n $(netns_ns a) -4 addr show ipop0 | grep -q 10.254.0.1/24"
ctl_b create-overlay --overlay ov --node node-b --tap ipop0 --ip4 10.254.0.2 --json
expect 0 "create-overlay in b (\$IPOP_CONFIG, --json after the command)"
check "  ... one JSON document" is_one_json
ctl_a create-overlay --overlay ov --node node-a --tap ipop1
expect 1 "create-overlay again: the daemon's error"
check "  ... says exists" has_err "answered exists"
ctl_a overlay-info --overlay ov; expect 0 "overlay-info (text)"
check "  ... key: value lines" grep -q "^tap_name: ipop0$" <<<"$out"
ctl_a -j overlay-info --overlay nope; expect 1 "overlay-info of a missing overlay"
check "  ... the argument is named" has_err 'not_found: .*\(--overlay ID\)'
check "  ... --json: the error object on stdout" jqe '.error.code == "not_found"'

ctl_a -j candidates --overlay ov --peer node-b; expect 0 "candidates in a"
echo "$out" >"$NETNS_TMPDIR/a.json"
check "  ... a candidate set" jqe '.node_id == "node-a" and .peer_id == "node-b" and (.candidates | length) > 0'
ctl_b -j candidates --overlay ov --peer node-a; expect 0 "candidates in b"
echo "$out" >"$NETNS_TMPDIR/b.json"
ctl_a candidates --overlay ov --peer node-b; expect 0 "candidates (text)"
check "  ... candidate lines" grep -q "^candidate: candidate:" <<<"$out"
ctl_a create-link --peer node-b --remote "$NETNS_TMPDIR/a.json"
expect 2 "create-link with our own set"
check "  ... explains whose set it is" has_err 'candidate set of node "node-a"'
ctl_a -j create-link --remote "$NETNS_TMPDIR/b.json"; expect 0 "create-link in a (all from --remote)"
check "  ... link stat JSON" jqe '.peer_id == "node-b"'
set +e
out=$(netns_exec b env IPOP_CONFIG="$B/config.json" "$IPOPCTL" -j create-link --overlay ov \
      --peer node-a --remote - <"$NETNS_TMPDIR/a.json" 2>&1); rc=$?
set -e
expect 0 "create-link in b (--remote - from stdin)"
up_a() { ctl_a -j link-stats --overlay ov --peer node-b; jqe '.links[0].state == "up"'; }
check "link up within 20 s" wait_until 20 up_a
check "a pings b over the overlay" wait_ping a 10.254.0.2 10
ctl_a link-stats; expect 0 "link-stats (table)"
check "  ... a row for node-b, up" grep -Eq "^ov +node-b +up " <<<"$out"
ctl_a -j link-stats --peer node-b; expect 0 "link-stats --peer"
check "  ... counters" jqe '.links[0].tx_packets > 0'

ctl_a -j add-mapping --overlay ov --peer node-b --mapped 10.254.0.99 --peer-ip4 10.254.0.2
expect 0 "add-mapping"
check "  ... JSON" is_one_json
ctl_b add-mapping --overlay ov --peer node-a --mapped 10.254.0.98 --peer-ip4 10.254.0.1
expect 0 "add-mapping in b"
check "  ... the mapping took effect" wait_file "$A/tincan.log" "peer 10.254.0.2 appears here as 10.254.0.99" 5
check "a reaches b at the mapped address" wait_ping a 10.254.0.99 10
ctl_a remove-mapping --overlay ov --peer node-b
expect 0 "remove-mapping"
check "  ... logged" wait_file "$A/tincan.log" "link ov/node-b: address mapping removed" 5
ctl_a remove-mapping --overlay ov --peer node-b
expect 1 "remove-mapping again"
check "  ... names the missing mapping" has_err "has no address mapping"
ctl_a add-mapping --overlay ov --peer nobody --mapped 10.254.0.98 --peer-ip4 10.254.0.3
expect 1 "add-mapping for a peer without a link"

ctl_a -j configure-logging trace; expect 0 "configure-logging trace"
check "  ... the settings" jqe '.level == "trace"'
chmod 755 "$NETNS_TMPDIR"; mkdir -p "$NETNS_TMPDIR/logs"; chmod 1777 "$NETNS_TMPDIR/logs" # tincan runs as nobody
ctl_a configure-logging debug --file "$NETNS_TMPDIR/logs/tincan-a.log"; expect 0 "configure-logging --file"
check "  ... tincan opened the file" test -e "$NETNS_TMPDIR/logs/tincan-a.log"
ctl_a configure-logging info --file ""; expect 0 "configure-logging --file \"\" closes it"

# events: listen prints one JSON line per event; a link going down is one
netns_spawn a "$NETNS_TMPDIR/events.log" "$IPOPCTL" --config "$A/config.json" -T 3600 listen
LISTEN=$NETNS_LAST_PID
check "listen subscribed" wait_file "$A/tincan.log" "monitor .* subscribed to events" 10
ctl_b remove-link --overlay ov --peer node-a; expect 0 "remove-link in b"
check "listen prints the link_state event of a" \
  wait_file "$NETNS_TMPDIR/events.log" '"event":"link_state"' 40
check "every event line is JSON" sh -c "grep '^{' '$NETNS_TMPDIR/events.log' | jq -e .event >/dev/null"
check "nothing else on listen's stdout" sh -c "! grep -v -e '^{' -e '^ipopctl: listening' '$NETNS_TMPDIR/events.log'"
kill -INT "$LISTEN"
check "listen exits on Ctrl-C" wait_pid_gone "$LISTEN" 5
ctl_a -j remove-link --overlay ov --peer node-b; expect 0 "remove-link in a"
ctl_a -j link-stats --overlay ov; expect 0 "link-stats after removal"
check "  ... no links" jqe '.links | length == 0'
ctl_a remove-link --overlay ov --peer node-b; expect 1 "remove-link again"
ctl_a -t -j call query_link_stats '{"overlay_id":5}'; expect 1 "call with a wrong type"
check "  ... the field is named" has_err "body.overlay_id: expected string"
ctl_a remove-overlay --overlay ov; expect 0 "remove-overlay in a"
check "  ... TAP gone" sh -c "! ip -n $(netns_ns a) link show ipop0 2>/dev/null"
ctl_b -j remove-overlay --overlay ov; expect 0 "remove-overlay in b"
ctl_a -t -j echo hello; expect 0 "tincan echo --json"
check "  ... JSON" jqe '.message == "hello"'
# ---- connect and wait (tincan) -------------------------------------------
# One command per side, both at once: each creates its overlay, writes its
# candidate set and waits for the other's file, links, waits until up.
CA=$NETNS_TMPDIR/connect-a.json CB=$NETNS_TMPDIR/connect-b.json
conn=(connect --overlay ov2 --tap ipop1 --out)
netns_spawn a "$NETNS_TMPDIR/connect-a.log" env IPOP_CONFIG="$A/config.json" "$IPOPCTL" \
  "${conn[@]}" "$CA" --remote "$CB" --node node-a --peer node-b --ip4 10.254.1.1/24 --deadline 60
CONN_A=$NETNS_LAST_PID
netns_spawn b "$NETNS_TMPDIR/connect-b.log" env IPOP_CONFIG="$B/config.json" "$IPOPCTL" \
  "${conn[@]}" "$CB" --remote "$CA" --node node-b --peer node-a --ip4 10.254.1.2/24 --deadline 60
CONN_B=$NETNS_LAST_PID
set +e; wait "$CONN_A"; rc_a=$?; wait "$CONN_B"; rc_b=$?; set -e
check "connect in a and b at once: both exit 0 (a $rc_a, b $rc_b)" test "$rc_a$rc_b" = 00
check "  ... a says the link is up" grep -Eq "^link ov2/node-b is up: [a-z]+ pair, rtt [0-9.]+ ms \(after [0-9.]+ s\)$" \
  "$NETNS_TMPDIR/connect-a.log"
check "  ... and what it did, on stderr" grep -q "created overlay ov2 (TAP ipop1)" "$NETNS_TMPDIR/connect-a.log"
check "  ... our set written 0600 (it carries the ICE password)" test "$(stat -c %a "$CA")" = 600
check "a pings b over the connected overlay" wait_ping a 10.254.1.2 10
ctl_a connect --overlay ov2 --node node-a --peer node-b --out "$CA" --remote "$CB"
expect 0 "connect again: the link is up already"
check "  ... says so" grep -q "^link ov2/node-b is up already" <<<"$out"
ctl_a -t wait link node-b --overlay ov2 --deadline 5; expect 0 "-t wait link (up)"
check "  ... one sentence" grep -Eq "^link ov2/node-b is up: [a-z]+ pair, rtt [0-9.]+ ms \(after [0-9.]+ s\)$" <<<"$out"
ctl_a -t -j wait link node-b; expect 0 "-t wait link --json"
check "  ... the link as JSON" jqe '.state == "up" and .peer_id == "node-b" and .overlay_id == "ov2"'
ctl_a -t wait overlay --overlay ov2; expect 0 "-t wait overlay (exists)"
check "  ... names it and its TAP" grep -q "^overlay ov2 exists (TAP ipop1)" <<<"$out"
t0=$(wait__now_ms)
ctl_a -t wait overlay --overlay nope --deadline 1; expect 6 "-t wait overlay that never comes: the deadline"
t1=$(wait__now_ms)
check "  ... after about 1 s ($((t1 - t0)) ms)" test $((t1 - t0)) -ge 900 -a $((t1 - t0)) -lt 3000
check "  ... names the last state" has_err "wait overlay: not done within the deadline of 1 s \(last: ipop-tincan answered not_found"
check "  ... nothing on stdout" test -z "$out"
ctl_a -t wait link node-zz --deadline 1; expect 6 "-t wait link to a peer without a link"
check "  ... says there is none" has_err 'last: .*no link to "?node-zz'
ctl_a connect --overlay ov2 --node node-a --peer node-x --out "$NETNS_TMPDIR/cx.json" \
  --remote "$NETNS_TMPDIR/never.json" --deadline 1
expect 6 "connect: the peer's file never comes"
check "  ... names the file it waited for" has_err "last: no --remote $NETNS_TMPDIR/never.json yet"
ctl_a connect --overlay ov2 --node node-a --peer node-y --out "$NETNS_TMPDIR/c2.json" --remote "$CA"
expect 2 "connect with our own set as --remote"
check "  ... named" has_err "is our own candidate set"
ctl_a connect --overlay ov3 --node node-a --peer node-b --out "$NETNS_TMPDIR/c3.json" --remote "$CB"
expect 1 "connect to a missing overlay without --tap"
check "  ... says to give --tap" has_err 'no overlay "ov3": give --tap NAME'
ctl_a connect --overlay ov2 --node node-q --peer node-b --out "$NETNS_TMPDIR/c4.json" --remote "$CB"
expect 1 "connect with another --node than the overlay's"
check "  ... names both" has_err 'overlay "ov2" exists with node id "node-a", not --node node-q'
ctl_a connect --overlay ov2 --node node-a --peer node-b --out x.json --remote x.json
expect 2 "connect: --out and --remote the same"
ctl_a connect --overlay ov2 --node node-a --peer node-b --out a.json; expect 2 "connect without --remote"
check "  ... named" has_err "connect: --remote FILE is required"
ctl_a -k "$A/wrong.key" -t wait overlay --overlay ov2; expect 4 "wait with the wrong key: at once"
ctl_a -t wait link 'carol@example.org'; expect 2 "-t wait link with a JID"
check "  ... says tincan knows node ids" has_err "ipop-tincan knows peers by node id only"
ctl_a -t wait overlay; expect 2 "-t wait overlay without --overlay"
ctl_a wait link node-b --overlay ov2; expect 2 "wait link --overlay without -t"
check "  ... says give -t" has_err "--overlay ID is tincan's overlay: give -t"
ctl_a wait link node-b --deadline 0; expect 2 "--deadline 0"
check "  ... named" has_err '--deadline "0": expected an integer in 1..86400'
ctl_a -t wait peers 1; expect 2 "-t wait peers"
ctl_a wait link; expect 2 "wait link without PEER"
check "  ... named" has_err "missing PEER"
ctl_a wait; expect 2 "wait without a condition"
check "  ... lists the three" test "$(grep -c 'ipopctl .*wait ' <<<"$err")" = 3
ctl_a remove-overlay --overlay ov2; expect 0 "remove-overlay ov2 in a"
ctl_b remove-overlay --overlay ov2; expect 0 "remove-overlay ov2 in b"

# register: no controller has registered (this one has no overlay), so
# ipopctl may give the events to it; from then on ipopctl may only query.
ctl_a -j register --address 127.0.0.1:5801; expect 0 "register --address (the controller's)"
check "  ... message" jqe '.message == "events go to 127.0.0.1:5801"'
ctl_a -j create-overlay --overlay ov2 --node a2 --tap ipop9; expect 1 "create-overlay once a controller is registered"
check "  ... permission, naming the controller" has_err "permission denied: the controller registered at 127.0.0.1:5801"
ctl_a -j register; expect 1 "register from ipopctl once a controller is registered"
ctl_a -j link-stats; expect 0 "queries are still allowed"

# ---- controller ----------------------------------------------------------
C=(--config "$A/controller.json")
ctl_a "${C[@]}" -j status; expect 0 "status --json"
check "  ... version and tincan up" jqe '.version != "" and (.tincan | type == "string")'
ctl_a "${C[@]}" status; expect 0 "status (text)"
check "  ... version and uptime" grep -Eq "^ipop-controller [0-9.]+, up " <<<"$out"
check "  ... tincan up" grep -Eq "^tincan: +up \(127.0.0.1:5800\)" <<<"$out"
ctl_a "${C[@]}" -j peers; expect 0 "peers --json"
check "  ... a list" jqe '.peers | type == "array"'
ctl_a "${C[@]}" peers; expect 0 "peers (table)"
check "  ... header" grep -q "^JID " <<<"$out"
ctl_a "${C[@]}" -j stats; expect 0 "stats --json"
check "  ... counters" jqe '.ctl_requests_in > 0'
ctl_a "${C[@]}" -j links; expect 1 "links without Controller.Overlay: the daemon's error"
check "  ... one JSON error document" jqe '.error.code == "bad_state"'
check "  ... readable on stderr" has_err "ipop-controller answered bad_state"

# wait against the controller (no XMPP, no overlay configured)
ctl_a "${C[@]}" wait peers 0; expect 0 "wait peers 0: at once"
check "  ... says so" grep -q "^0 peers online" <<<"$out"
ctl_a "${C[@]}" wait peers 1 --deadline 1; expect 6 "wait peers 1 without XMPP: the deadline"
check "  ... 0 of 1 online" has_err "last: 0 of 1 peers online"
ctl_a "${C[@]}" wait overlay --deadline 1; expect 6 "wait overlay without Controller.Overlay"
check "  ... says none is configured" has_err "has no overlay configured \(Controller.Overlay\)"
ctl_a "${C[@]}" wait link bob@example.org --deadline 1; expect 6 "wait link to a JID that never comes"
ctl_a "${C[@]}" wait link bob@example.org --group lab --deadline 1; expect 6 "wait link in a group we are not in"
check "  ... says so" has_err "last: not in group lab \(yet\)"
ctl_a "${C[@]}" wait link 'bob@example.org/' ; expect 2 "wait link: bad JID"

# group/block: not served yet -> readable unknown_command + exit 1;
# served -> answers (or errors, without XMPP) that parse.
group_cmd() { # description, then the arguments
  local what=$1; shift
  ctl_a "${C[@]}" -j "$@"
  if [ "$rc" = 1 ] && jqe '.error.code == "unknown_command"'; then
    check "$what: not served yet: exit 1, readable" \
      has_err "this ipop-controller does not offer \"[a-z_]+\" yet"
  elif [ "$rc" = 0 ] || [ "$rc" = 1 ]; then
    check "$what: answered (exit $rc) with one JSON document" is_one_json
  else
    check "$what: exit 0 or 1 (got $rc: $err)" false
  fi
}
group_cmd "group list" group list
group_cmd "group create" group create lab --subnet 10.254.7.0/24
group_cmd "group invite" group invite lab david@example.org
group_cmd "group join" group join lab
group_cmd "group join --room" group join --room lab@conference.example.org
group_cmd "group leave" group leave lab
group_cmd "group remove" group remove lab erin@example.org
group_cmd "block" block carol@example.org
group_cmd "unblock" unblock carol@example.org
group_cmd "blocklist" blocklist
# served: the text forms of the two lists on a node that is in no group
ctl_a "${C[@]}" group list
[ "$rc" = 0 ] && check "group list (text): no groups" test "$out" = "(no groups)"
ctl_a "${C[@]}" blocklist
[ "$rc" = 0 ] && check "blocklist (text): no one" test "$out" = "(no one is blocked)"
ctl_a "${C[@]}" group create lab
[ "$rc" = 1 ] && check "group create without XMPP: the controller's reason on stderr" \
  has_err "^ipopctl: group create: ipop-controller answered [a-z_]+: "

check "controller still running" kill -0 "$CPID"
check "no sanitizer report from the controller" \
  sh -c "! grep -Eq 'Sanitizer|runtime error' '$A/controller.log'"
netns_kill "$CPID"
tc_finish
