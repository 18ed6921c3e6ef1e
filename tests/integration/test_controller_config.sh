#!/usr/bin/env bash
# ipop-controller configuration: valid files pass --check-config; each kind
# of mistake is refused with an error that names the key path; the
# controller refuses root; a missing TURN password file stops the start.
# No namespaces or servers needed.
set -uo pipefail
: "${IPOP_SRC_DIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${IPOP_BUILD_DIR:=$IPOP_SRC_DIR/build}"
controller=$IPOP_BUILD_DIR/controller/ipop-controller
[ -x "$controller" ] || { echo "skip: $controller not built"; exit 77; }
dir=$(mktemp -d /tmp/ipop-ctrlcfg.XXXXXX)
trap 'rm -rf "$dir"' EXIT
fails=0
check() {
  local what=$1; shift
  if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; fails=$((fails+1)); fi
}

# cfg CONTROLLER_MEMBERS: a config file with these Controller members.
cfg() {
  cat >"$dir/c.json" <<JSON
{ "Control": { "KeyFile": "$dir/control.key" },
  "Controller": { "StateDir": "$dir/state", $1 } }
JSON
  echo "$dir/c.json"
}
xmpp='"Xmpp": { "Jid": "n1@xmpp.test", "PasswordFile": "/nonexistent" }'
ov='"Overlay": { "Subnet": "10.254.0.0/24" }'

valid() { "$controller" --check-config -c "$(cfg "$1")" >/dev/null 2>&1; }
# refused MEMBERS REGEX: --check-config fails and stderr matches REGEX.
refused() {
  local out
  if out=$("$controller" --check-config -c "$(cfg "$1")" 2>&1); then return 1; fi
  grep -Eq -- "$2" <<<"$out" || { echo "  got: $out"; return 1; }
}

check "sample config is valid" "$controller" --check-config -c "$IPOP_SRC_DIR/config.json.sample"
check "bare shell (no Xmpp, no Overlay) is valid" valid '"AllowRoot": false'
check "group config is valid" valid "\"Group\": \"lab\", $xmpp, $ov"
check "social config is valid" valid "\"Mode\": \"social\", $xmpp, \"Overlay\": { \"Subnet\": \"172.31.0.0/24\" }"
check "unknown mode names Controller.Mode" refused "\"Mode\": \"mesh\", $xmpp, $ov" 'Controller\.Mode'
check "group mode without Group" refused "$xmpp, $ov" 'Controller\.Group'
check "Overlay without Xmpp" refused "\"Group\": \"x\", $ov" 'Controller\.Xmpp'
check "Xmpp without Jid" refused "\"Group\": \"x\", \"Xmpp\": {}, $ov" 'Controller\.Xmpp\.Jid'
check "malformed subnet" refused "\"Group\": \"x\", $xmpp, \"Overlay\": { \"Subnet\": \"10.254.0.1/24\" }" \
  'Controller\.Overlay\.Subnet'
check "address outside the subnet" \
  refused "\"Group\": \"x\", $xmpp, \"Overlay\": { \"Subnet\": \"10.254.0.0/24\", \"Address\": \"10.9.0.1\" }" \
  'Controller\.Overlay\.Address'
check "SocialVPN needs /16../30" \
  refused "\"Mode\": \"social\", $xmpp, \"Overlay\": { \"Subnet\": \"10.0.0.0/8\" }" 'Controller\.Overlay\.Subnet'
# Relay policy (Relay, PeerRelay): each mistake names its key.
rl() { echo "\"Group\": \"x\", $xmpp, \"Overlay\": { \"Subnet\": \"10.254.0.0/24\", $1 }"; }
turn='"Turn": [{ "Address": "198.18.0.100:3478", "User": "u", "PasswordFile": "/nonexistent" }]'
check "Relay never/auto valid" valid "$(rl '"Relay": "never", "PeerRelay": [{ "Jid": "n2@xmpp.test", "Relay": "auto" }]')"
check "Relay always with a Turn server valid" valid "$(rl "\"Relay\": \"always\", $turn")"
check "unknown Relay value names Controller.Overlay.Relay" \
  refused "$(rl '"Relay": "sometimes"')" 'Controller\.Overlay\.Relay'
check "Relay always without Turn names Controller.Overlay.Relay" \
  refused "$(rl '"Relay": "always"')" 'Controller\.Overlay\.Relay: "always" needs a TURN server'
check "PeerRelay Jid not bare names PeerRelay[1].Jid" \
  refused "$(rl '"PeerRelay": [{ "Jid": "n2@xmpp.test", "Relay": "never" }, { "Jid": "n3@xmpp.test/home", "Relay": "never" }]')" \
  'Controller\.Overlay\.PeerRelay\[1\]\.Jid: "n3@xmpp.test/home" is not a bare JID'
check "PeerRelay Jid without @ names PeerRelay[0].Jid" \
  refused "$(rl '"PeerRelay": [{ "Jid": "n2", "Relay": "never" }]')" 'Controller\.Overlay\.PeerRelay\[0\]\.Jid'
check "PeerRelay always without Turn names PeerRelay[0].Relay" \
  refused "$(rl '"PeerRelay": [{ "Jid": "n2@xmpp.test", "Relay": "always" }]')" \
  'Controller\.Overlay\.PeerRelay\[0\]\.Relay: "always" needs a TURN server'
check "PeerRelay entry without Relay names it" \
  refused "$(rl '"PeerRelay": [{ "Jid": "n2@xmpp.test" }]')" 'PeerRelay.*Relay'
check "PeerRelay unknown Relay value names it" \
  refused "$(rl '"PeerRelay": [{ "Jid": "n2@xmpp.test", "Relay": "maybe" }]')" 'PeerRelay.*Relay'
check "PeerRelay not a list names it" refused "$(rl '"PeerRelay": { "Jid": "n2@xmpp.test" }')" 'PeerRelay'
# Dual stack (Subnet6, Address6)
g6() { echo "\"Group\": \"x\", $xmpp, \"Overlay\": { \"Subnet\": \"10.254.0.0/24\", $1 }"; }
s6() { echo "\"Mode\": \"social\", $xmpp, \"Overlay\": { \"Subnet\": \"172.31.0.0/24\", $1 }"; }
check "Subnet6 and Address6 valid (group)" valid "$(g6 '"Subnet6": "fd00:1::/64", "Address6": "fd00:1::5"')"
check "Subnet6 none is valid" valid "$(g6 '"Subnet6": "none"')"
check "Subnet6 /96 valid in SocialVPN" valid "$(s6 '"Subnet6": "fd00:1::/96"')"
check "Address6 in the default (derived) Subnet6 is checked against it" \
  refused "$(g6 '"Address6": "fd00:1::5"')" 'Controller\.Overlay\.Address6: fd00:1::5 is not a host address of fd[0-9a-f:]*/64 \(the default Subnet6'
check "malformed Subnet6" refused "$(g6 '"Subnet6": "fd00:1::/6x"')" 'Controller\.Overlay\.Subnet6: "fd00:1::/6x": expected "ADDRESS/PREFIX"'
check "Subnet6 without prefix" refused "$(g6 '"Subnet6": "fd00:1::"')" 'Controller\.Overlay\.Subnet6'
check "Subnet6 with host bits" refused "$(g6 '"Subnet6": "fd00:1::1/64"')" 'Controller\.Overlay\.Subnet6: .*host bits'
check "Subnet6 prefix too short" refused "$(g6 '"Subnet6": "fd00::/32"')" 'Controller\.Overlay\.Subnet6: .*out of range'
check "Subnet6 multicast" refused "$(g6 '"Subnet6": "ff05::/64"')" 'Controller\.Overlay\.Subnet6: .*unicast'
check "Subnet6 link-local" refused "$(g6 '"Subnet6": "fe80::/64"')" 'Controller\.Overlay\.Subnet6: .*unicast'
check "Subnet6 oversized" refused "$(g6 "\"Subnet6\": \"$(printf 'f%.0s' $(seq 1 300))/64\"")" 'Controller\.Overlay\.Subnet6'
check "Subnet6 not a string" refused "$(g6 '"Subnet6": 64')" 'Controller\.Overlay\.Subnet6'
check "SocialVPN Subnet6 longer than /96" refused "$(s6 '"Subnet6": "fd00:1::/112"')" 'Controller\.Overlay\.Subnet6: .*SocialVPN needs'
check "Address6 outside Subnet6" refused "$(g6 '"Subnet6": "fd00:1::/64", "Address6": "fd00:2::5"')" \
  'Controller\.Overlay\.Address6: fd00:2::5 is not a host address of fd00:1::/64'
check "Address6 the subnet-router anycast address" \
  refused "$(g6 '"Subnet6": "fd00:1::/64", "Address6": "fd00:1::"')" 'Controller\.Overlay\.Address6'
check "Address6 malformed" refused "$(g6 '"Subnet6": "fd00:1::/64", "Address6": "fd00:1::g"')" 'Controller\.Overlay\.Address6'
check "Address6 with Subnet6 none" refused "$(g6 '"Subnet6": "none", "Address6": "fd00:1::5"')" \
  'Controller\.Overlay\.Address6: .*"none"'
check "Subnet6 set on an MTU below 1280" refused "$(g6 '"Subnet6": "fd00:1::/64", "Mtu": 1000')" \
  'Controller\.Overlay\.Mtu: 1000 is below IPv6.s minimum'
check "default Subnet6 with an MTU below 1280 is valid (IPv4 only)" valid "$(g6 '"Mtu": 1000')"
check "Address6 in SocialVPN" refused "$(s6 '"Subnet6": "fd00:1::/64", "Address6": "fd00:1::5"')" \
  'Controller\.Overlay\.Address6: .*GroupVPN only'
check "a TURN password inline is an unknown key" \
  refused "\"Group\": \"x\", $xmpp, \"Overlay\": { \"Turn\": [{ \"Address\": \"t:3478\", \"User\": \"u\", \"Password\": \"p\" }] }" \
  'Controller\.Overlay\.Turn\[0\]\.Password'
check "typo in a key" refused "\"Group\": \"x\", $xmpp, \"Overlay\": { \"Mtuu\": 1400 }" \
  'Controller\.Overlay\.Mtuu'
check "a ResourcePrefix with XML-special characters (peers would drop our signals)" \
  refused "\"Group\": \"x\", \"Xmpp\": { \"Jid\": \"n1@xmpp.test\", \"ResourcePrefix\": \"a<b\" }, $ov" \
  'Controller\.Xmpp\.ResourcePrefix'
check "a ResourcePrefix with a non-ASCII separator (U+2028, refused by servers)" \
  refused "\"Group\": \"x\", \"Xmpp\": { \"Jid\": \"n1@xmpp.test\", \"ResourcePrefix\": \"a\\u2028b\" }, $ov" \
  'Controller\.Xmpp\.ResourcePrefix'
check "link budget below 2" refused "\"Group\": \"x\", \"LinkBudget\": 1, $xmpp, $ov" 'Controller\.LinkBudget'
check "a friend name a hosts file cannot hold" \
  refused "\"Mode\": \"social\", \"Names\": [{ \"Jid\": \"b@x\", \"Name\": \"two words\" }], $xmpp, \"Overlay\": { \"Subnet\": \"172.31.0.0/24\" }" \
  'Controller\.Names\[0\]\.Name'
g() { echo "\"Group\": \"x\", $xmpp, $ov, \"Groups\": { $1 }"; }
check "Groups with every key is valid" \
  valid "$(g '"Service": "conference.xmpp.test", "AcceptInvites": "list", "AcceptFrom": ["c@xmpp.test"], "TapPrefix": "grp", "Mtu": 1400')"
check "Groups: unknown AcceptInvites" refused "$(g '"AcceptInvites": "everyone"')" 'Controller\.Groups\.AcceptInvites'
check "Groups: list without AcceptFrom" refused "$(g '"AcceptInvites": "list"')" 'Controller\.Groups\.AcceptFrom'
check "Groups: AcceptFrom not a bare JID" refused "$(g '"AcceptFrom": ["c@x/res"]')" 'Controller\.Groups\.AcceptFrom\[0\]'
check "Groups: Service with an @" refused "$(g '"Service": "room@conference.x"')" 'Controller\.Groups\.Service'
check "Groups: TapPrefix too long" refused "$(g '"TapPrefix": "abcdefghijklmn"')" 'Controller\.Groups\.TapPrefix'
check "Groups: TapPrefix with a bad character" refused "$(g '"TapPrefix": "a/b"')" 'Controller\.Groups\.TapPrefix'
check "Groups: TapPrefix a prefix of Overlay.TapName" refused "$(g '"TapPrefix": "ipop"')" 'Controller\.Groups\.TapPrefix'
check "Groups: Mtu out of range" refused "$(g '"Mtu": 100')" 'Controller\.Groups\.Mtu'
check "Groups: typo in a key" refused "$(g '"Servce": ""')" 'Controller\.Groups\.Servce'
check "bad overlay id" refused "\"Group\": \"x\", $xmpp, \"Overlay\": { \"Id\": \"a b\" }" 'Controller\.Overlay\.Id'

if [ "$(id -u)" -eq 0 ]; then
  out=$("$controller" -c "$(cfg '"AllowRoot": false')" 2>&1); rc=$?
  check "refuses to run as root" sh -c "[ $rc -ne 0 ] && grep -q 'refusing to run as root' <<'EOF2'
$out
EOF2"
  out=$(timeout 10 "$controller" --allow-root -c "$(cfg "\"Group\": \"x\", $xmpp, \"Overlay\": { \"Turn\": [{ \"Address\": \"t:3478\", \"User\": \"u\", \"PasswordFile\": \"$dir/missing\" }] }")" 2>&1); rc=$?
  check "missing TURN password file stops the start, naming the key" \
    sh -c "[ $rc -eq 1 ] && grep -q 'Controller.Overlay.Turn\[0\].PasswordFile' <<'EOF2'
$out
EOF2"
fi
echo "test_controller_config: $fails failed"
[ "$fails" -eq 0 ]
