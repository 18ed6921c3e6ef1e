#!/usr/bin/env bash
# ipop-controller end to end, SocialVPN: alice and bob are mutual friends,
# carol is a friend of bob only.  alice<->bob and bob<->carol ping over the
# overlay, each at the address its friend's pool gave it; alice and carol
# get no link; alice's hosts file names bob.  alice and bob use the same
# subnet and the same local address (issue 5, test 2: address collision),
# carol another subnet.  Dual stack: every friend also appears at an IPv6
# address of the user's own Subnet6 (the friend's IPv4 one in its last 32
# bits; alice and bob use the same Subnet6 and the same address there too),
# pings over it, and the hosts file names both.
set -euo pipefail
. "$(dirname "$0")/controller_helpers.sh"
ct_skip_unless_ready
netns_init

netns_segment pub
ct_xmpp_start
ct_xmpp_users alice bob carol
ct_xmpp_friends f1 alice bob
ct_xmpp_friends f2 bob carol
ct_xmpp_ready
echo "# XMPP server: $CT_XMPP_KIND"

ct_node alice 198.18.0.21 social "" '"Subnet": "172.31.0.0/24", "Address": "172.31.0.1",
  "Subnet6": "fd00:a::/64"'
ct_node bob 198.18.0.22 social "" '"Subnet": "172.31.0.0/24", "Address": "172.31.0.1",
  "Subnet6": "fd00:a::/64"'
ct_node carol 198.18.0.23 social '"Names": [{ "Jid": "bob@'"$CT_DOMAIN"'", "Name": "bobby" }]' \
  '"Subnet": "10.30.0.0/24"'
for h in alice bob carol; do ct_controller_start "$h"; done
for h in alice bob carol; do check "$h online" ct_wait_online "$h" 30; done
t0=$(date +%s%N)

# mapped HOST USER: the address HOST's pool gave that friend.
mapped() { ct_mapped "$1" "$2@"; }
has_mapped() { ct_has_mapped "$1" "$2@"; }
check "alice has an address for bob" wait_until 60 has_mapped alice bob
ab=$(mapped alice bob)
check "alice pings bob at $ab" wait_ping alice "$ab" 60
t1=$(date +%s%N)
echo "# link setup alice-bob (controllers online -> first overlay ping): $(( (t1 - t0) / 1000000 )) ms"
check "bob: alice mapped" wait_until 30 has_mapped bob alice
check "bob: carol mapped" wait_until 30 has_mapped bob carol
ba=$(mapped bob alice); bc=$(mapped bob carol); cb=$(mapped carol bob)
echo "# alice sees bob at $ab; bob sees alice at $ba, carol at $bc; carol sees bob at $cb"
check "bob pings alice at $ba (same subnet and address as bob's own)" wait_ping bob "$ba" 30
check "bob pings carol at $bc" wait_ping bob "$bc" 30
check "carol pings bob at $cb" wait_ping carol "$cb" 30
check "alice has no address for carol" test -z "$(mapped alice carol)"
check "carol has no address for alice" test -z "$(mapped carol alice)"
one_up() { [ "$(ct_links_up "$1")" = "$2" ]; }
check "alice has exactly 1 link" one_up alice 1
check "carol has exactly 1 link" one_up carol 1
check "bob has 2 links" wait_until 20 one_up bob 2
hosts=$(ct_dir alice)/state/hosts
check "alice's hosts file names bob at $ab" grep -Eq "^$ab[[:space:]]+bob@$CT_DOMAIN\$" "$hosts"
check "alice's hosts file does not name carol" sh -c "! grep -q carol $hosts"
check "status: mode social" test "$(ct_status alice mode)" = social
check "carol's hosts file uses the name she configured for bob" \
  grep -Eq "^$cb[[:space:]]+bobby\$" "$(ct_dir carol)/state/hosts"
# IPv6: mapped6 HOST USER: the IPv6 address HOST gave that friend.
mapped6() {
  ct_ctl "$1" -j peers | jq -r --arg j "$2@" \
    '[.peers[] | select(.jid | startswith($j)) | .mapped_ip6 // empty][0] // empty'
}
ab6=$(mapped6 alice bob); ba6=$(mapped6 bob alice); cb6=$(mapped6 carol bob)
echo "# IPv6: alice sees bob at $ab6; bob sees alice at $ba6; carol sees bob at $cb6"
check "alice's IPv6 address for bob carries his IPv4 one ($ab6 ~ $ab)" \
  test "$ab6" = "$(python3 -c "import ipaddress,sys; print(ipaddress.IPv6Address(int(ipaddress.IPv6Address('fd00:a::')) | int(ipaddress.IPv4Address(sys.argv[1]))))" "$ab")"
check "status: alice's own IPv6 address fd00:a::ac1f:1" test "$(ct_status alice ip6)" = fd00:a::ac1f:1
check "alice pings6 bob at $ab6" wait_ping alice "$ab6" 30
check "bob pings6 alice at $ba6 (same address as bob's own)" wait_ping bob "$ba6" 30
check "carol pings6 bob at $cb6 (her default Subnet6)" wait_ping carol "$cb6" 30
check "alice's hosts file names bob at $ab6 too" grep -Eq "^$ab6[[:space:]]+bob@$CT_DOMAIN\$" "$hosts"
check "carol's hosts file names bobby at $cb6" \
  grep -Eq "^$cb6[[:space:]]+bobby\$" "$(ct_dir carol)/state/hosts"
sed 's/^/# alice hosts: /' "$hosts"
ct_ctl bob peers | sed 's/^/# bob peers: /'

if [ "$CT_XMPP_KIND" = ejabberd ]; then
  # bob and carol stop being friends (roster pushes): both drop the link.
  ct_xs 'xs_ej_rpc "$XS_DIR/srv" \
    "mod_admin_extra, delete_rosteritem, [<<\"bob\">>, <<\"'"$CT_DOMAIN"'\">>, <<\"carol\">>, <<\"'"$CT_DOMAIN"'\">>]" \
    "mod_admin_extra, delete_rosteritem, [<<\"carol\">>, <<\"'"$CT_DOMAIN"'\">>, <<\"bob\">>, <<\"'"$CT_DOMAIN"'\">>]"'
  check "bob drops the link to carol (1 link left)" wait_until 20 one_up bob 1
  check "carol has no link left" wait_until 20 one_up carol 0
  check "bob no longer reaches carol" sh -c "! ip netns exec $(netns_ns bob) ping -c1 -W1 -q $bc"
  check "alice and bob still ping" wait_ping alice "$ab" 10
fi
ct_finish
