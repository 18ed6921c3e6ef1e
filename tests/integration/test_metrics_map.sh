#!/usr/bin/env bash
# Metrics and the overlay map end to end (issue 14), one set-up for all:
# ejabberd and three GroupVPN nodes n1..n3 in namespaces on one segment,
# each controller listening on Controller.Http.Listen 0.0.0.0:9587 (so a
# Prometheus in n1's namespace reaches the other two over the underlay).
#  - promtool check metrics passes on each live node's /metrics;
#  - a real Prometheus (Debian's prometheus) scrapes the three nodes and its
#    HTTP API answers ipop_link_up with 1 for all six links;
#  - headless Chromium (Debian's chromium) loads n1's map: the DOM shows
#    n2 and n3 with links up and pair type host, n3's odd XMPP resource
#    (a backslash and "${alert(1)}") and the name n1 gives n2 (an <img>
#    with onerror) as text, running nothing; then n3's path is cut (its
#    namespace drops UDP; XMPP over TCP stays), and the map shows n3 still
#    online but its link no longer up.
# (The XMPP library refuses JIDs with < > " ' & outright: such a peer gets
# no link and no place on the map; the page puts every string into text
# nodes anyway, and the unit tests feed the Prometheus writer quotes and
# newlines.)
# Screenshots stay in $IPOP_BUILD_DIR/test-artifacts/metrics_map/.
set -euo pipefail
. "$(dirname "$0")/controller_helpers.sh"
ct_skip_unless_ready
for c in promtool prometheus chromium curl; do
  command -v "$c" >/dev/null || { echo "skip: $c not installed (scripts/install-deps.sh)"; exit 77; }
done
netns_init
art=$IPOP_BUILD_DIR/test-artifacts/metrics_map
rm -rf "$art"; mkdir -p "$art"

netns_segment pub
ct_xmpp_start
ct_xmpp_users n1 n2 n3
ct_xmpp_friends lab n1 n2 n3
declare -A ua=([n1]=198.18.0.11 [n2]=198.18.0.12 [n3]=198.18.0.13)
for h in n1 n2 n3; do
  ct_node "$h" "${ua[$h]}" group '"Group": "lab", "Http": { "Listen": "0.0.0.0:9587" }'
done
# n3 logs in with a resource that JavaScript and the exposition format
# must escape: it stays text in the map and one label value in metrics.
evil='a\b${alert(1)}-'
jq --arg r "$evil" '.Controller.Xmpp.ResourcePrefix = $r' "$(ct_dir n3)/config.json" \
  >"$NETNS_TMPDIR/n3.json" && cat "$NETNS_TMPDIR/n3.json" >"$(ct_dir n3)/config.json"
# n1 names n2 with markup (Controller.Names allows any name without
# whitespace or '#'): the browser must show it as text and run nothing.
html='<img/src=x/onerror=document.title="pwned">'
jq --arg n "$html" '.Controller.Names = [{ Jid: "n2@xmpp.test", Name: $n }]' \
  "$(ct_dir n1)/config.json" >"$NETNS_TMPDIR/n1.json" && cat "$NETNS_TMPDIR/n1.json" >"$(ct_dir n1)/config.json"
for h in n1 n2 n3; do ct_controller_start "$h"; done
for h in n1 n2 n3; do check "$h online" ct_wait_online "$h" 60; done
two_up() { [ "$(ct_links_up "$1")" = 2 ]; }
for h in n1 n2 n3; do check "$h has 2 links up" wait_until 60 two_up "$h"; done
[ "$TC_FAILS" = 0 ] || { ct_finish || true; exit 1; }

# ---- promtool on each live node ---------------------------------------
get() { netns_exec n1 curl -sS --max-time 5 "$@"; }
tincan_seen() { get "http://$1:9587/metrics" | grep -q '^process_open_fds{daemon="tincan"}'; }
for h in n1 n2 n3; do
  check "$h: /metrics carries tincan's process_* (query_process)" wait_until 20 tincan_seen "${ua[$h]}"
  get "http://${ua[$h]}:9587/metrics" >"$art/metrics-$h.txt" || true
  check "$h: promtool check metrics passes ($(wc -l <"$art/metrics-$h.txt") lines)" \
    sh -c "promtool check metrics <'$art/metrics-$h.txt'"
done
check "n1: two links labelled with peer JIDs, both up" \
  test "$(grep -c '^ipop_link_up{overlay="lab",peer="[0-9a-f]*",peer_jid="n[23]@xmpp.test"} 1$' "$art/metrics-n1.txt")" = 2
# (pair types come with tincan's next stats event, after the link is up)
two_host() { get http://127.0.0.1:9587/metrics | grep -q '^ipop_overlay_links{overlay="lab",type="host"} 2$'; }
check "n1: links by pair type: 2 host" wait_until 30 two_host
check "n1: ipop_link_state: both up" \
  test "$(grep -c '^ipop_link_state{overlay="lab",peer="[0-9a-f]*",peer_jid="n[23]@xmpp.test",state="up"} 1$' "$art/metrics-n1.txt")" = 2
check "n1: 2 members online" grep -q '^ipop_overlay_members_online{overlay="lab"} 2$' "$art/metrics-n1.txt"
check "n1: XMPP online" grep -q '^ipop_xmpp_state{state="online"} 1$' "$art/metrics-n1.txt"
check "n3: its odd full JID stays one escaped label value" \
  grep -q '^ipop_node_info{node="[0-9a-f]*",jid="n3@xmpp.test/a\\\\b${alert(1)}' "$art/metrics-n3.txt"
grep -E '^ipop_link_(up|rtt_seconds|sent_bytes_total)' "$art/metrics-n1.txt" | sed 's/^/# n1: /'

# ---- a real Prometheus scrapes all three --------------------------------
pd=$NETNS_TMPDIR/prometheus
mkdir -p "$pd/data"
cat >"$pd/prometheus.yml" <<YML
global: { scrape_interval: 1s, scrape_timeout: 1s }
scrape_configs:
  - job_name: ipop
    static_configs:
      - targets: ['127.0.0.1:9587', '${ua[n2]}:9587', '${ua[n3]}:9587']
YML
netns_spawn n1 "$pd/prometheus.log" prometheus --config.file="$pd/prometheus.yml" \
  --storage.tsdb.path="$pd/data" --web.listen-address=127.0.0.1:9090
query() { get -G "http://127.0.0.1:9090/api/v1/query" --data-urlencode "query=$1"; }
# six ipop_link_up series (3 nodes x 2 links), every one 1
all_links_up() {
  query ipop_link_up | jq -e '.status == "success" and (.data.result | length) == 6 and
    all(.data.result[]; .value[1] == "1")' >/dev/null 2>&1
}
check "prometheus: ipop_link_up is 1 for all 6 links of 3 nodes" wait_until 60 all_links_up
query ipop_link_up | jq -r '.data.result[] | "# prometheus: \(.metric.instance) \(.metric.peer_jid) \(.value[1])"' || true
targets_up() { query 'sum(up{job="ipop"})' | jq -e '.data.result[0].value[1] == "3"' >/dev/null 2>&1; }
check "prometheus: 3 targets up" wait_until 20 targets_up

# ---- the map in headless Chromium --------------------------------------
chrome() {
  netns_exec n1 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --user-data-dir="$NETNS_TMPDIR/chromium" --no-first-run --window-size=1100,1300 \
    --virtual-time-budget=8000 "$@" http://127.0.0.1:9587/ 2>>"$art/chromium.log"
}
row() { grep -o "<tr class=\"node\" data-node-id=\"$1\"[^>]*>" "$2"; }
id2=$(cat "$(ct_dir n2)/state/node_id"); id3=$(cat "$(ct_dir n3)/state/node_id")
map_up() {
  chrome --dump-dom >"$art/map-n1.html" || return 1
  row "$id2" "$art/map-n1.html" | grep -q 'data-link-state="up" data-pair-type="host"' &&
    row "$id3" "$art/map-n1.html" | grep -q 'data-link-state="up" data-pair-type="host"'
}
check "chromium: n1's map shows n2 and n3, links up, pair type host" wait_until 60 map_up
check "chromium: the map names n2 and n3 by JID" \
  sh -c "grep -q 'n2@xmpp.test' '$art/map-n1.html' && grep -q 'n3@xmpp.test' '$art/map-n1.html'"
check "chromium: the SVG graph has 2 links coloured host" \
  test "$(grep -o '<line [^>]*class="host"' "$art/map-n1.html" | wc -l)" = 2
check "chromium: n2's name with markup is text: no <img>, the title unchanged" \
  sh -c "grep -qF '&lt;img/src=x/onerror=document.title=\"pwned\"&gt;' '$art/map-n1.html' &&
         ! grep -q '<img' '$art/map-n1.html' && grep -q '<title>ipop overlay map</title>' '$art/map-n1.html'"
check "chromium: n3's odd resource is shown as text" \
  grep -qF 'n3@xmpp.test/a\b${alert(1)}' "$art/map-n1.html"
chrome --screenshot="$art/map-n1-up.png" >/dev/null || true
check "chromium: screenshot taken ($art/map-n1-up.png)" test -s "$art/map-n1-up.png"

# ---- cut n3's path: the map shows its link go down --------------------------
# UDP only: the links' ICE and DTLS go, n3's XMPP session (TCP) stays, so n3
# stays on the map as an online member whose link is down or set up again.
netns_exec n3 iptables -A INPUT -p udp -j DROP
netns_exec n3 iptables -A OUTPUT -p udp -j DROP
n3_not_up() {
  get http://127.0.0.1:9587/api/map |
    jq -e --arg id "$id3" '[.overlays[0].nodes[] | select(.id == $id)] |
      length == 1 and .[0].online and .[0].link.state != "up"' >/dev/null
}
check "n1's /api/map: n3 online, its link no longer up (tincan: down after 5 s silent)" \
  wait_until 60 n3_not_up
map_cut() {
  chrome --dump-dom >"$art/map-n1-cut.html" || return 1
  row "$id2" "$art/map-n1-cut.html" | grep -q 'data-link-state="up"' &&
    row "$id3" "$art/map-n1-cut.html" | grep -Eq 'data-link-state="(down|failed|connecting|new|none)"' &&
    [ "$(grep -o '<line [^>]*class="host"' "$art/map-n1-cut.html" | wc -l)" = 1 ]
}
check "chromium: n1's map shows n2 up, n3 there with its link not up" wait_until 30 map_cut
grep -o "<tr class=\"node\" data-node-id=\"$id3\"[^>]*>" "$art/map-n1-cut.html" | sed 's/^/# after the cut: /' || true
chrome --screenshot="$art/map-n1-cut.png" >/dev/null || true
check "chromium: screenshot after the cut ($art/map-n1-cut.png)" test -s "$art/map-n1-cut.png"
link3_down() { query "ipop_link_up{instance=\"127.0.0.1:9587\",peer=\"$id3\"} == 1" |
  jq -e '.data.result | length == 0' >/dev/null 2>&1; }
check "prometheus: n1's ipop_link_up for n3 is no longer 1" wait_until 30 link3_down
echo "# artifacts: $art"
ct_finish
