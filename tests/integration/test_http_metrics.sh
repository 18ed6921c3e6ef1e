#!/usr/bin/env bash
# The controller's HTTP listener (Controller.Http) under abuse, in one
# namespace with ipop-tincan and a bare controller (no XMPP needed):
#  - configuration: default 127.0.0.1:9587 only, "" = no listener at all,
#    a host name or a missing port refused naming Controller.Http.Listen;
#  - a port that is taken: the controller runs on without the listener;
#  - unknown paths 404, other methods 405 (with Allow), a foreign Host on a
#    loopback listener 421 (DNS rebinding), malformed request lines and
#    binary junk 400 or a closed connection, oversized headers and URLs 4xx;
#  - 300 idle connections at once: at most the per-address limit is held,
#    the event loop still answers ipopctl, another address is still served,
#    threads and descriptors stay bounded; all served again once they go;
#  - ipop_http_requests_total counts what was refused; promtool passes.
set -euo pipefail
. "$(dirname "$0")/controller_helpers.sh"
tc_skip_unless_ready
[ -x "$CONTROLLER" ] || { echo "skip: $CONTROLLER not built"; exit 77; }
for c in curl python3 promtool ss; do
  command -v "$c" >/dev/null || { echo "skip: $c not installed"; exit 77; }
done
netns_init
netns_host h
ip netns exec "$(netns_ns h)" ip addr add 127.0.0.2/8 dev lo 2>/dev/null || true
tc_start h "\"ControllerUser\": \"$CT_USER\""
d=$(tc_dir h)
mkdir -p "$d/state"; chmod 755 "$NETNS_TMPDIR" "$d"; chown "$CT_USER" "$d/state"

# conf HTTP_JSON: the controller's config (tincan's sections, plus Http).
conf() {
  jq --argjson http "$1" --arg sd "$d/state" \
    '.Controller = ({ StateDir: $sd, Log: { Level: "debug" } } + $http)' \
    "$d/config.json" >"$d/ctrl.json"
  chmod 644 "$d/ctrl.json"
}
refused() {
  conf "$1"
  local out
  if out=$("$CONTROLLER" --check-config -c "$d/ctrl.json" 2>&1); then return 1; fi
  grep -Eq -- "$2" <<<"$out" || { echo "  got: $out"; return 1; }
}
check "a host name is refused, naming Controller.Http.Listen" \
  refused '{"Http": {"Listen": "metrics.example:9587"}}' 'Controller\.Http\.Listen.*no host names'
check "a missing port is refused" refused '{"Http": {"Listen": "127.0.0.1"}}' 'Controller\.Http\.Listen.*PORT'
check "port 0 is refused" refused '{"Http": {"Listen": "127.0.0.1:0"}}' 'Controller\.Http\.Listen'
check "an unknown key under Http is refused" refused '{"Http": {"Port": 1}}' 'Controller\.Http\.Port'

start() {
  conf "$1"
  netns_spawn h "$d/controller-$2.log" setpriv --reuid="$CT_USER" --regid=nogroup \
    --clear-groups "$CONTROLLER" -c "$d/ctrl.json"
  CPID=$NETNS_LAST_PID
}
answers() { netns_exec h "$IPOPCTL" -k "$d/control.key" -s 127.0.0.1:5801 -T 2 status >/dev/null 2>&1; }
stop() { netns_kill "$CPID" 10; }
listening() { netns_exec h ss -Hltn "sport = :9587" | awk '{print $4}'; }

# "" turns it off
start '{"Http": {"Listen": ""}}' off
check "Listen \"\": the controller runs" wait_until 10 answers
check "Listen \"\": nothing listens on 9587" test -z "$(listening)"
stop
# the default: loopback only
start '{}' default
check "default: the controller runs" wait_until 10 answers
has_default() { [ "$(listening)" = 127.0.0.1:9587 ]; }
check "default: listens on 127.0.0.1:9587 and nowhere else" wait_until 10 has_default
# a second controller on the same port (another control port) runs on
jq '.Control.Controller = "127.0.0.1:5811"' "$d/ctrl.json" >"$d/ctrl2.json"
netns_spawn h "$d/controller-taken.log" setpriv --reuid="$CT_USER" --regid=nogroup \
  --clear-groups "$CONTROLLER" -c "$d/ctrl2.json"
pid2=$NETNS_LAST_PID
answers2() { netns_exec h "$IPOPCTL" -k "$d/control.key" -s 127.0.0.1:5811 -T 2 status >/dev/null 2>&1; }
check "port taken: the second controller runs on without the listener" wait_until 10 answers2
check "port taken: the log says why, naming the key" \
  grep -q "Controller.Http.Listen 127.0.0.1:9587: .*running without /metrics" "$d/controller-taken.log"
netns_kill "$pid2" 10

url=http://127.0.0.1:9587
code() { netns_exec h curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
check "GET /metrics 200" test "$(code $url/metrics)" = 200
check "GET / 200 (the map page)" test "$(code $url/)" = 200
check "GET /api/map 200" test "$(code $url/api/map)" = 200
check "HEAD /metrics 200" test "$(code -I $url/metrics)" = 200
get() { netns_exec h curl -s "$@"; }
ctype_ok() { get -D - -o /dev/null "$url/metrics" | grep -qi '^Content-Type: text/plain; version=0.0.4'; }
check "/metrics is text/plain; version=0.0.4" ctype_ok
page_headers_ok() {
  local h; h=$(get -D - -o /dev/null "$url/")
  grep -qi "^Content-Security-Policy: default-src 'none'; script-src 'self';" <<<"$h" &&
    grep -qi '^X-Content-Type-Options: nosniff' <<<"$h" && grep -qi '^Cache-Control: no-store' <<<"$h"
}
check "the page: CSP without inline script, nosniff, no-store" page_headers_ok
# (the one URL in the files is the SVG namespace's name, never fetched)
no_foreign_urls() {
  ! get "$url/" "$url/map.js" "$url/map.css" | grep -Eo "https?://[^ '\";)]*" |
    grep -vx 'http://www.w3.org/2000/svg' | grep -q .
}
check "the page loads nothing from elsewhere (no URL but the SVG namespace)" no_foreign_urls
check "unknown path 404" test "$(code $url/admin)" = 404
check "path traversal 404" test "$(code --path-as-is $url/../../etc/passwd)" = 404
check "query strings do not change the path: /metrics?x 200" test "$(code "$url/metrics?x=1")" = 200
for m in POST PUT DELETE OPTIONS PATCH TRACE; do
  check "$m /metrics 405" test "$(code -X $m $url/metrics)" = 405
done
check "405 says Allow: GET, HEAD" sh -c "ip netns exec $(netns_ns h) curl -s -i -X POST $url/ | grep -qi '^Allow: GET, HEAD'"
check "POST with a 1 MB body 405, the body not read into memory" \
  test "$(head -c 1000000 /dev/zero | code -X POST --data-binary @- $url/metrics)" = 405
check "a foreign Host on a loopback listener 421 (DNS rebinding)" \
  test "$(code -H 'Host: attacker.example:9587' $url/metrics)" = 421
check "Host localhost is fine" test "$(code -H 'Host: localhost:9587' $url/metrics)" = 200
big=$(head -c 40000 /dev/zero | tr '\0' a)
check "a 40 KB header 4xx" sh -c "c=\$(ip netns exec $(netns_ns h) curl -s -o /dev/null -w '%{http_code}' -H 'X-Big: $big' $url/metrics); [ \$c -ge 400 ] && [ \$c -lt 500 ]"
check "a 100 KB URL 4xx" sh -c "c=\$(ip netns exec $(netns_ns h) curl -s -o /dev/null -w '%{http_code}' '$url/$(head -c 100000 /dev/zero | tr '\0' a)'); [ \$c -ge 400 ] && [ \$c -lt 500 ]"
# raw RAW_BYTES: what the listener answers: its status line, "closed"
# (also when it closes an unfinished request after its 10 s timeout), or
# "timeout" when the connection is still open 15 s later.
raw() {
  netns_exec h python3 - "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", 9587), timeout=15)
s.sendall(sys.argv[1].encode("latin-1").decode("unicode_escape").encode("latin-1"))
try:
    data = s.recv(200)
except socket.timeout:
    data = b"timeout"
print(data.split(b"\r\n")[0].decode("latin-1") if data else "closed")
PY
}
bad4xx() { local r; r=$(raw "$1"); echo "  $r"; [[ $r == closed || $r =~ ^HTTP/1\.[01]\ 4[0-9][0-9] ]]; }
check "a malformed request line: 400 or closed" bad4xx 'GARBAGE\r\n\r\n'
check "binary junk: 400 or closed" bad4xx '\x00\xff\xfe\x01\r\n\r\n'
check "HTTP/9.9: 4xx/5xx or closed" sh -c "r=\$(ip netns exec $(netns_ns h) python3 -c '
import socket; s=socket.create_connection((\"127.0.0.1\",9587),timeout=5)
s.sendall(b\"GET /metrics HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n\"); d=s.recv(100); print(d.split(b\" \")[1].decode() if d else \"closed\")'); echo \"  \$r\"; [ \"\$r\" = closed ] || [ \"\$r\" -ge 400 ]"
check "a header line without a colon: 400 or closed" bad4xx 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nnocolon\r\n\r\n'
check "the controller still answers ipopctl" answers

# ---- many connections -----------------------------------------------------
base_fds=$(ls /proc/"$CPID"/fd | wc -l)
base_thr=$(awk '/^Threads:/ {print $2}' /proc/"$CPID"/status)
netns_spawn h "$d/flood.log" python3 -c '
import socket, time, sys
held = []
for i in range(300):
    try:
        s = socket.create_connection(("127.0.0.1", 9587), timeout=2)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
        held.append(s)
    except OSError as e:
        pass
print("opened", len(held), flush=True)
time.sleep(30)
'
flood=$NETNS_LAST_PID
check "300 half-sent requests are out" wait_file "$d/flood.log" "^opened" 20
sed 's/^/# flood: /' "$d/flood.log"
fds=$(ls /proc/"$CPID"/fd | wc -l)
thr=$(awk '/^Threads:/ {print $2}' /proc/"$CPID"/status)
echo "# controller: $base_fds -> $fds descriptors, $base_thr -> $thr threads during the flood"
check "descriptors stay bounded (at most 64 more)" test "$fds" -le $((base_fds + 64))
check "threads stay the same" test "$thr" -eq "$base_thr"
check "during the flood: the event loop answers ipopctl" answers
check "during the flood: another address (127.0.0.2) is served" \
  test "$(code --interface 127.0.0.2 $url/metrics)" = 200
netns_kill "$flood" 5
served() { [ "$(code $url/metrics)" = 200 ]; }
check "after the flood: 127.0.0.1 is served again" wait_until 20 served

netns_exec h curl -s "$url/metrics" >"$d/metrics.txt"
check "promtool check metrics passes" sh -c "promtool check metrics <'$d/metrics.txt'"
check "ipop_http_requests_total counts the 405s" \
  grep -Eq '^ipop_http_requests_total\{code="405"\} ([6-9]|[1-9][0-9]+)$' "$d/metrics.txt"
check "ipop_http_requests_total counts the 404s" grep -Eq '^ipop_http_requests_total\{code="404"\} [1-9]' "$d/metrics.txt"
grep '^ipop_http_requests_total' "$d/metrics.txt" | sed 's/^/# /'
stop
check "the controller exited cleanly, no sanitizer report" \
  sh -c "! grep -Eq 'Sanitizer|runtime error' $d/controller-*.log"
tc_finish
