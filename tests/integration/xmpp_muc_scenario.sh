# shellcheck shell=bash
# Groups (XEP-0045 rooms) and blocking (XEP-0191) through ipop_xmpp against
# a real server; sourced by test_xmpp_muc_ejabberd.sh and
# test_xmpp_muc_prosody.sh, which call xm_scenario KIND.
#
# carol creates room lab (checked: members-only, persistent, non-anonymous,
# hidden, description readable), grants david and erin membership and
# invites them; they join and see each other's real JIDs and node ids;
# frank (not a member) is refused; signals between room members are
# reported with their server-stamped senders (whom to believe is the
# controller's decision); erin's membership is revoked (321); blocking with
# pushes, the server stops a blocked JID's signals; hostile stanzas (forged
# room presence and invitations) are counted, not believed.

source "$IPOP_SRC_DIR/tests/lib/xmpp_servers.sh"

# xm_called NAME CMD: wait for the probe's answer to a command; print the
# result code.
xm_called() {
  local name=$1 cmd=$2 n
  n=$3
  xs_probe_wait_more 10 "$n" "$name" '"event":"called"' "\"cmd\":\"$cmd\"" >/dev/null ||
    xs_fail "$name: no answer to $cmd"
  xs_probe_field "$name" result '"event":"called"' "\"cmd\":\"$cmd\""
}

# xm_do NAME JSON: send a command and require result 0.
xm_do() {
  local name=$1 json=$2 cmd n r
  [[ $json =~ \"cmd\":\"([a-z_]+)\" ]] || xs_fail "bad command $json"
  cmd=${BASH_REMATCH[1]}
  n=$(xs_probe_count "$name" '"event":"called"' "\"cmd\":\"$cmd\"")
  xs_probe_cmd "$name" "$json"
  r=$(xm_called "$name" "$cmd" "$n")
  [ "$r" = 0 ] || xs_fail "$name: $cmd returned $r"
}

# Count of events before a step, to wait for a new one after it.
xm_n() { xs_probe_count "$@"; }

xm_signal() {
  local from=$1 to_full=$2 tag=$3
  xs_probe_cmd "$from" "{\"cmd\":\"send\",\"to\":\"$to_full\",\"type\":\"offer\",\"id\":\"$tag\",\"payload\":\"{}\"}"
}

xm_scenario() {
  local kind=$1
  case $kind in
    ejabberd) command -v ejabberdctl >/dev/null || { echo "ejabberd not installed"; exit 77; } ;;
    prosody) command -v prosody >/dev/null || { echo "prosody not installed"; exit 77; } ;;
  esac
  [ "$(id -u)" -eq 0 ] || { echo "needs root"; exit 77; }
  local probe="$IPOP_BUILD_DIR/tests/unit/xmpp/xmpp_probe"
  [ -x "$probe" ] || { echo "missing $probe"; exit 1; }
  xs_init
  local domain=xmpp.test addr=127.0.0.1 svc=conference.xmpp.test
  local port=$((25000 + ($$ % 2000) * 2))
  local srv="$XS_DIR/srv" pki="$XS_DIR/pki" ca="$XS_DIR/pki/ca.pem"
  local room="lab@$svc" desc='{"ipop":1,"subnet":"10.254.7.0/24"}'
  local jdesc='{\"ipop\":1,\"subnet\":\"10.254.7.0/24\"}'
  xs_make_ca "$pki" "$domain" || xs_fail "cannot make CA"

  xs_step "$kind: carol is friends with david and with erin; frank is nobody's"
  xs_prepare "$kind" "$srv" "$domain" "$addr" "$port" "$pki"
  if [ "$kind" = prosody ]; then
    xs_register "$srv" carol pw-carol david pw-david erin pw-erin frank pw-frank ||
      xs_fail register
    xs_friends "$srv" cd carol david
    xs_friends "$srv" ce carol erin
    xs_server_start "$kind" "$srv" "$domain" "$addr" "$port" "$pki" || xs_fail "server start"
  else
    xs_server_start "$kind" "$srv" "$domain" "$addr" "$port" "$pki" || xs_fail "server start"
    xs_register "$srv" carol pw-carol david pw-david erin pw-erin frank pw-frank ||
      xs_fail register
    xs_friends "$srv" cd carol david || xs_fail friends
    xs_friends "$srv" ce carol erin || xs_fail friends
  fi
  local u
  for u in carol david erin frank; do
    xs_password_file "$XS_DIR/$u.pw" "pw-$u"
    xs_probe_config "$XS_DIR/$u.json" "$u@$domain" "$XS_DIR/$u.pw" "$addr" "$port" "$ca"
    xs_probe_start "$u" "$XS_DIR/$u.json" "node-$u"
  done
  for u in carol david erin frank; do
    xs_probe_wait 30 "$u" '"state":"online"' || xs_fail "$u not online"
    # The blocklist is read after login (empty).
    xs_probe_wait 10 "$u" '"event":"blocklist"' '"jids":[]' '"full":true' ||
      xs_fail "$u: no blocklist after login"
  done

  xs_step "MUC service discovery (disco#items + disco#info conference/text)"
  xm_do carol '{"cmd":"discover"}'
  xs_probe_wait 10 carol '"event":"result"' '"op":"discover"' '"error":0' "\"text\":\"$svc\"" ||
    xs_fail "carol did not discover $svc"

  xs_step "carol creates $room: persistent, members-only, non-anonymous, unlisted"
  xm_do carol "{\"cmd\":\"create\",\"room\":\"$room\",\"name\":\"lab\",\"desc\":\"$jdesc\"}"
  xs_probe_wait 15 carol '"event":"result"' '"op":"create"' "\"room\":\"$room\"" '"error":0' ||
    xs_fail "room not created"
  xs_probe_wait 5 carol '"event":"muc_self"' '"state":"joined"' '"created":true' '"affiliation":"owner"' ||
    xs_fail "carol not in the room as owner"
  xm_do carol "{\"cmd\":\"room_info\",\"room\":\"$room\"}"
  xs_probe_wait 10 carol '"event":"room_info"' '"members_only":true' '"persistent":true' \
    '"non_anonymous":true' '"hidden":true' '"password_protected":false' ||
    xs_fail "room configuration is not what a group needs: $(xs_probe_grep carol room_info)"
  local got
  got=$(xs_probe_field carol description '"event":"room_info"')
  [ "$got" = "$desc" ] || xs_fail "description is '$got', wanted '$desc'"
  # Creating it again is fine (ours); a description too long is refused.
  local n; n=$(xm_n carol '"op":"create"' '"error":0')
  xm_do carol "{\"cmd\":\"create\",\"room\":\"$room\",\"name\":\"lab\",\"desc\":\"x\"}"
  xs_probe_wait_more 10 "$n" carol '"op":"create"' '"error":0' || xs_fail "second create not idempotent"
  local big; big=$(head -c 5000 /dev/zero | tr '\0' x)
  n=$(xm_n carol '"event":"called"' '"cmd":"create"')
  xs_probe_cmd carol "{\"cmd\":\"create\",\"room\":\"big@$svc\",\"desc\":\"$big\"}"
  [ "$(xm_called carol create "$n")" = -6 ] || xs_fail "oversized description accepted"

  xs_step "carol grants david and erin membership and invites them (at their nodes)"
  xs_probe_wait 10 carol '"event":"presence"' '"node_id":"node-david"' || xs_fail "carol does not see david"
  xs_probe_wait 10 carol '"event":"presence"' '"node_id":"node-erin"' || xs_fail "carol does not see erin"
  for u in david erin; do
    xm_do carol "{\"cmd\":\"affiliation\",\"room\":\"$room\",\"jid\":\"$u@$domain\",\"aff\":\"member\"}"
    xs_probe_wait 10 carol '"event":"result"' '"op":"affiliation"' "\"jid\":\"$u@$domain\"" '"error":0' ||
      xs_fail "membership for $u not granted"
    # The bare JID through the room (chat clients), the node directly.
    xm_do carol "{\"cmd\":\"invite\",\"room\":\"$room\",\"jid\":\"$u@$domain\",\"reason\":\"join lab\"}"
    local node_full
    node_full=$(xs_probe_field carol from '"event":"presence"' "\"node_id\":\"node-$u\"")
    xm_do carol "{\"cmd\":\"invite\",\"room\":\"$room\",\"jid\":\"$node_full\",\"reason\":\"join lab\"}"
    xs_probe_wait 10 "$u" '"event":"invite"' "\"room\":\"$room\"" "\"from\":\"carol@$domain\"" \
      '"direct":true' || xs_fail "$u got no invitation"
  done
  xm_do carol "{\"cmd\":\"members\",\"room\":\"$room\"}"
  xs_probe_wait 10 carol '"event":"members"' "\"david@$domain\"" "\"erin@$domain\"" ||
    xs_fail "member list lacks david/erin"

  xs_step "david and erin join; occupants see real JIDs and node ids"
  xm_do david "{\"cmd\":\"join\",\"room\":\"$room\"}"
  xs_probe_wait 15 david '"event":"muc_self"' '"state":"joined"' '"affiliation":"member"' ||
    xs_fail "david did not join"
  xs_probe_wait 10 david '"event":"occupant"' "\"jid\":\"carol@$domain/" '"node_id":"node-carol"' \
    '"affiliation":"owner"' || xs_fail "david does not see carol's real JID and node"
  xs_probe_wait 10 carol '"event":"occupant"' "\"jid\":\"david@$domain/" '"node_id":"node-david"' \
    '"available":true' || xs_fail "carol does not see david"
  xm_do erin "{\"cmd\":\"join\",\"room\":\"$room\"}"
  xs_probe_wait 15 erin '"event":"muc_self"' '"state":"joined"' || xs_fail "erin did not join"
  xs_probe_wait 10 erin '"event":"occupant"' '"node_id":"node-david"' || xs_fail "erin does not see david"
  xs_probe_wait 10 david '"event":"occupant"' '"node_id":"node-erin"' || xs_fail "david does not see erin"
  local carol_full david_full erin_full
  carol_full=$(xs_probe_field david jid '"event":"occupant"' '"node_id":"node-carol"')
  david_full=$(xs_probe_field carol jid '"event":"occupant"' '"node_id":"node-david"')
  erin_full=$(xs_probe_field carol jid '"event":"occupant"' '"node_id":"node-erin"')
  xs_log "carol=$carol_full david=$david_full erin=$erin_full"

  xs_step "a caps change reaches the room as a presence update"
  xs_probe_cmd david '{"cmd":"caps","caps":"caps-new"}'
  xs_probe_wait 10 carol '"event":"occupant"' '"node_id":"node-david"' '"caps":"caps-new"' ||
    xs_fail "carol did not see david's new caps"
  xs_probe_has david '"event":"muc_self"' '"state":"left"' && xs_fail "caps update made david leave"

  xs_step "members read the settings from the room description"
  xm_do david "{\"cmd\":\"room_info\",\"room\":\"$room\"}"
  xs_probe_wait 10 david '"event":"room_info"' '"members_only":true' || xs_fail "david cannot read room info"
  got=$(xs_probe_field david description '"event":"room_info"')
  [ "$got" = "$desc" ] || xs_fail "david reads description '$got'"

  xs_step "frank, not a member, is refused (and cannot take the room over)"
  xm_do frank "{\"cmd\":\"join\",\"room\":\"$room\"}"
  xs_probe_wait 10 frank '"event":"muc_self"' '"state":"failed"' '"condition":"registration-required"' ||
    xs_fail "frank was not refused with registration-required"
  xs_probe_wait 5 frank '"event":"result"' '"op":"join"' '"error_name":"permission"' || xs_fail "no join result"
  xm_do frank "{\"cmd\":\"create\",\"room\":\"$room\",\"name\":\"mine\"}"
  xs_probe_wait 10 frank '"event":"result"' '"op":"create"' '"error_name":"exists"' "$room" ||
    xs_fail "frank's create of carol's room did not fail naming it"
  xs_probe_has carol '"event":"occupant"' '"node_id":"node-frank"' && xs_fail "frank appeared in the room"

  xs_step "signals: friends, and room members who are not friends, all reported"
  xm_signal carol "$david_full" c2d-1
  xs_probe_wait 10 david '"event":"signal"' '"id":"c2d-1"' || xs_fail "david did not get carol's signal"
  local david_full_e
  david_full_e=$(xs_probe_field erin jid '"event":"occupant"' '"node_id":"node-david"')
  [ "$david_full_e" = "$david_full" ] || xs_fail "erin and carol disagree on david's JID"
  xm_signal erin "$david_full" e2d-1
  xs_probe_wait 10 david '"event":"signal"' '"id":"e2d-1"' "\"from\":\"$erin_full\"" ||
    xs_fail "david did not get erin's signal with erin's JID"
  xm_signal david "$erin_full" d2e-1
  xs_probe_wait 10 erin '"event":"signal"' '"id":"d2e-1"' || xs_fail "erin did not get david's signal"

  xs_step "hostile: forged room presence and invitations from frank"
  xs_probe_cmd frank "{\"cmd\":\"raw\",\"xml\":\"<presence to='$david_full'><x xmlns='http://jabber.org/protocol/muc#user'><item jid='evil@$domain/x' affiliation='owner' role='moderator'/><status code='110'/></x></presence>\"}"
  xs_probe_cmd frank "{\"cmd\":\"raw\",\"xml\":\"<message to='$david_full'><x xmlns='http://jabber.org/protocol/muc#user'><invite from='carol@$domain'><reason>trust me</reason></invite></x></message>\"}"
  xs_wait 10 "david counting 2 dropped MUC stanzas" xs_counter_is david muc_dropped 2 ||
    xs_fail "forged stanzas not counted"
  xs_probe_has david 'evil@' && xs_fail "forged occupant believed"
  xs_probe_has david 'trust me' && xs_fail "forged invitation believed"
  # A direct invitation (XEP-0249) is reported with its real sender: the
  # controller's policy decides.
  xs_probe_cmd frank "{\"cmd\":\"raw\",\"xml\":\"<message to='$david_full'><x xmlns='jabber:x:conference' jid='$room' reason='come'/></message>\"}"
  xs_probe_wait 10 david '"event":"invite"' "\"from\":\"frank@$domain\"" '"direct":true' ||
    xs_fail "direct invitation not reported with its sender"

  xs_step "carol revokes erin's membership: erin removed (321), others see her go"
  xm_do carol "{\"cmd\":\"affiliation\",\"room\":\"$room\",\"jid\":\"erin@$domain\",\"aff\":\"none\"}"
  xs_probe_wait 10 erin '"event":"muc_self"' '"state":"left"' '"reason":"affiliation"' ||
    xs_fail "erin not removed with 321: $(xs_probe_grep erin muc_self)"
  xs_probe_wait 10 david '"event":"occupant"' '"node_id"' '"available":false' '"reason":"affiliation"' >/dev/null ||
    xs_probe_wait 10 david '"event":"occupant"' "\"nick\":\"erin-" '"available":false' ||
    xs_fail "david did not see erin leave"
  xs_probe_wait 10 carol '"event":"occupant"' "\"nick\":\"erin-" '"available":false' ||
    xs_fail "carol did not see erin leave"
  n=$(xm_n erin '"event":"muc_self"' '"state":"failed"')
  xm_do erin "{\"cmd\":\"join\",\"room\":\"$room\"}"
  xs_probe_wait_more 10 "$n" erin '"event":"muc_self"' '"state":"failed"' ||
    xs_fail "erin could rejoin after removal"

  xs_step "david blocks carol: push, carol's signals stop; unblock: they flow again"
  xm_do david "{\"cmd\":\"block\",\"jid\":\"carol@$domain\"}"
  xs_probe_wait 10 david '"event":"blocklist"' "\"jids\":[\"carol@$domain\"]" '"blocked":true' \
    '"full":false' || xs_fail "david got no block push"
  xs_probe_wait 10 david '"event":"result"' '"op":"block"' '"error":0' || xs_fail "block not confirmed"
  xm_signal carol "$david_full" c2d-blocked
  xs_probe_wait 10 carol '"event":"sent"' || xs_fail "carol could not send"
  xm_do david "{\"cmd\":\"unblock\",\"jid\":\"carol@$domain\"}"
  xs_probe_wait 10 david '"event":"blocklist"' "\"jids\":[\"carol@$domain\"]" '"blocked":false' ||
    xs_fail "david got no unblock push"
  xm_signal carol "$david_full" c2d-after
  xs_probe_wait 10 david '"event":"signal"' '"id":"c2d-after"' || xs_fail "no signal after unblock"
  # The server itself stops stanzas from a blocked JID (XEP-0191).
  xs_probe_has david '"id":"c2d-blocked"' && xs_fail "the server delivered blocked carol's signal"
  # Unblock-all push clears the list.
  xm_do david "{\"cmd\":\"block\",\"jid\":\"frank@$domain\"}"
  xs_probe_wait 10 david '"event":"blocklist"' "frank@$domain" '"blocked":true' || xs_fail "no block push"
  xm_do david '{"cmd":"unblock"}'
  xs_probe_wait 10 david '"event":"blocklist"' '"jids":[]' '"blocked":false' '"full":true' ||
    xs_fail "no unblock-all push"

  xs_step "leave; the room persists without occupants and david can come back"
  xm_do david "{\"cmd\":\"leave\",\"room\":\"$room\"}"
  xs_probe_wait 10 david '"event":"muc_self"' '"state":"left"' '"reason":"left"' || xs_fail "david did not leave"
  xs_probe_wait 10 carol '"event":"occupant"' "\"nick\":\"david-" '"available":false' '"reason":"left"' ||
    xs_fail "carol did not see david leave"
  xm_do carol "{\"cmd\":\"leave\",\"room\":\"$room\"}"
  xs_probe_wait 10 carol '"event":"muc_self"' '"state":"left"' || xs_fail "carol did not leave"
  n=$(xm_n david '"event":"muc_self"' '"state":"joined"')
  xm_do david "{\"cmd\":\"join\",\"room\":\"$room\"}"
  xs_probe_wait_more 10 "$n" david '"event":"muc_self"' '"state":"joined"' ||
    xs_fail "persistent room gone after its last occupant left"

  xs_step "server restart: david rejoins the room by itself"
  n=$(xm_n david '"event":"muc_self"' '"state":"joined"')
  xs_server_stop "$srv"
  xs_probe_wait 15 david '"state":"offline"' || xs_fail "david did not notice the restart"
  xs_server_start "$kind" "$srv" "$domain" "$addr" "$port" "$pki" || xs_fail "server restart"
  xs_probe_wait_more 45 "$n" david '"event":"muc_self"' '"state":"joined"' ||
    xs_fail "david did not rejoin after the restart"

  for u in carol david erin frank; do
    xs_probe_stop "$u" || xs_fail "$u probe exit status"
  done
  xs_log "PASS ($kind)"
}
