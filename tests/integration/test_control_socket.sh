#!/usr/bin/env bash
# The control socket end to end against the real daemons: ipopctl's
# authenticated echo to ipop-tincan and ipop-controller, refusal of a wrong
# key, replayed and stale datagrams, and hostile input (garbage, truncated,
# oversized, malformed JSON, deep nesting, non-UTF-8, version mismatch) that
# must be answered or dropped without disturbing the daemons.
set -euo pipefail
src=${IPOP_SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bld=${IPOP_BUILD_DIR:-$src/build}
. "$src/tests/lib/wait.sh"

tincan=$bld/tincan/ipop-tincan
controller=$bld/controller/ipop-controller
ipopctl=$bld/ipopctl/ipopctl
probe="/usr/bin/python3 $src/tests/tools/ctl_probe.py"
for b in "$tincan" "$controller" "$ipopctl"; do
  [ -x "$b" ] || { echo "missing $b (build first)"; exit 1; }
done

dir=$(mktemp -d /tmp/ipop-ctl-test.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

# Two free UDP ports on loopback.
free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tport=$(free_port); cport=$(free_port)
while [ "$cport" = "$tport" ]; do cport=$(free_port); done

cat >"$dir/config.json" <<JSON
{ "Control": { "Tincan": "127.0.0.1:$tport", "Controller": "127.0.0.1:$cport",
               "KeyFile": "$dir/control.key" },
  "Tincan": { "User": "", "IdentityFile": "$dir/identity.pem" },
  "Controller": { "StateDir": "$dir/state", "AllowRoot": true } }
JSON

fails=0; passes=0
check() { # description, then a command that must succeed
  local what=$1; shift
  if "$@"; then passes=$((passes+1)); echo "ok   - $what"
  else fails=$((fails+1)); echo "FAIL - $what"; fi
}

check "config.json.sample loads as is in ipop-tincan" \
  "$tincan" --check-config -c "$src/config.json.sample"
check "config.json.sample loads as is in ipop-controller" \
  "$controller" --check-config -c "$src/config.json.sample"
echo '{"Tincan": {"Log": {"Level": "verbose"}}}' >"$dir/bad.json"
set +e
err=$("$tincan" --check-config -c "$dir/bad.json" 2>&1)
set -e
check "a bad config value is named with its key path" grep -q 'Tincan.Log.Level: expected one of' <<<"$err"

"$tincan" -c "$dir/config.json" >"$dir/tincan.log" 2>&1 & pids+=($!)
"$controller" -c "$dir/config.json" >"$dir/controller.log" 2>&1 & pids+=($!)

ctl() { "$ipopctl" -k "$dir/control.key" "$@"; }
check "tincan answers an authenticated echo" \
  wait_until 10 ctl -s "127.0.0.1:$tport" -T 0.5 echo ready
check "key file was created with mode 0600" \
  test "$(stat -c %a "$dir/control.key")" = 600
out=$(ctl -s "127.0.0.1:$tport" echo "hello tincan")
check "ipopctl prints tincan's answer" test "$out" = "hello tincan"
out=$(ctl -s "127.0.0.1:$cport" echo "hello controller")
check "ipopctl prints the controller's answer" test "$out" = "hello controller"
check "controller's heartbeat sees tincan up" \
  wait_until 15 sh -c "'$ipopctl' -k '$dir/control.key' -s 127.0.0.1:$cport -j status | grep -q '\"tincan\": \"up\"'"

# A wrong key is refused with a clear message and exit code 4.
umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/wrong.key"; echo >>"$dir/wrong.key"
set +e
err=$("$ipopctl" -k "$dir/wrong.key" -s "127.0.0.1:$tport" echo hi 2>&1); rc=$?
set -e
check "wrong key: exit code 4 (got $rc)" test "$rc" = 4
check "wrong key: message says authentication failed" grep -q "authentication failed" <<<"$err"
check "tincan logged the refused datagram" wait_file "$dir/tincan.log" "not authenticated" 5

set +e
"$ipopctl" -k "$dir/control.key" -s "127.0.0.1:1" -T 0.5 echo hi 2>/dev/null; rc=$?
set -e
check "no daemon: exit code 3 (got $rc)" test "$rc" = 3

req() { printf '{"version":1,"txid":%d,"kind":"request","name":"%s","body":%s}' "$1" "$2" "$3"; }
for port in "$tport" "$cport"; do
  who=$([ "$port" = "$tport" ] && echo tincan || echo controller)
  out=$($probe "$dir/control.key" 127.0.0.1 "$port" replay "$(req 5 echo '{"message":"x"}')")
  check "$who: first copy answered" grep -q '^RESPONSE .*"message":"x"' <<<"$out"
  check "$who: replayed copy refused (NAK 2)" grep -q '^NAK 2' <<<"$out"
  out=$($probe "$dir/control.key" 127.0.0.1 "$port" stale "$(req 6 echo '{"message":"x"}')")
  check "$who: stale timestamp refused" test "$out" = "NAK 2"
  out=$($probe "$dir/control.key" 127.0.0.1 "$port" json '{"version":2,"txid":7,"kind":"request","name":"echo","body":{}}')
  check "$who: version mismatch answered" grep -q '"code":"version_mismatch"' <<<"$out"
  out=$($probe "$dir/control.key" 127.0.0.1 "$port" json '{"version":1,"txid":8,"kind":"request","name":"echo","body":{"message":')
  check "$who: truncated JSON answered bad_json" grep -q '"code":"bad_json"' <<<"$out"
  deep=$(python3 -c 'print("[" * 5000 + "]" * 5000)')
  out=$($probe "$dir/control.key" 127.0.0.1 "$port" json "$deep")
  check "$who: deep nesting dropped or refused" grep -Eq '^(NONE|RESPONSE .*too_large)' <<<"$out"
  out=$($probe "$dir/control.key" 127.0.0.1 "$port" json "$(printf '{"version":1,"txid":9,"kind":"request","name":"echo","body":{"message":"\xff\xfe"}}')")
  check "$who: non-UTF-8 answered bad_json" grep -q '"code":"bad_json"' <<<"$out"
  out=$($probe "$dir/control.key" 127.0.0.1 "$port" json "$(req 10 no_such_command '{}')")
  check "$who: unknown command named" grep -q '"code":"unknown_command".*no_such_command' <<<"$out"
  out=$($probe "$dir/control.key" 127.0.0.1 "$port" json "$(req 11 echo '{"message":5}')")
  check "$who: wrong type names the field" grep -q 'body.message: expected string' <<<"$out"
  out=$($probe "$dir/control.key" 127.0.0.1 "$port" json "$(req 12 echo '{}')")
  check "$who: missing field named" grep -q '"code":"missing_field".*body.message' <<<"$out"
  $probe "$dir/control.key" 127.0.0.1 "$port" garbage 300 >/dev/null
  out=$($probe "$dir/control.key" 127.0.0.1 "$port" oversize)
  check "$who: oversized datagram refused" grep -Eq '^(NONE|NAK 1)' <<<"$out"
  $probe "$dir/control.key" 127.0.0.1 "$port" raw "49504331" >/dev/null
  out=$(ctl -s "127.0.0.1:$port" echo "still alive")
  check "$who: still answers after hostile input" test "$out" = "still alive"
done

check "tincan still running" kill -0 "${pids[0]}"
check "controller still running" kill -0 "${pids[1]}"
if [ "$fails" != 0 ]; then
  echo "--- tincan log"; tail -n 30 "$dir/tincan.log"
  echo "--- controller log"; tail -n 30 "$dir/controller.log"
fi
echo "test_control_socket: $passes passed, $fails failed"
[ "$fails" = 0 ]
