#!/usr/bin/env bash
# The deployment scripts of issue 6 against real servers:
#   new-node-config.sh  group and social configs pass both daemons'
#                       --check-config; control key 0600; no overwrite
#                       without --force; bad flags named in the error
#   setup-ejabberd.sh   accounts, friendships and a shared roster group on
#                       a private ejabberd: passwords log in, rosters show
#                       them (ejabberdctl get_roster and a real XMPP login
#                       with xmpp_probe); idempotent on a second run
#   setup-prosody.sh    the same on a private Prosody (mod_groups)
#   setup-coturn.sh     a real turnserver runs with the written config; the
#                       TURN user allocates, a wrong password is refused
set -euo pipefail
. "$(dirname "$0")/controller_helpers.sh"
. "$IPOP_SRC_DIR/tests/lib/coturn.sh"
ct_skip_unless_ready
command -v prosody >/dev/null || { echo "skip: prosody not installed"; exit 77; }
coturn_available || { echo "skip: coturn not installed"; exit 77; }
PROBE=$IPOP_BUILD_DIR/tests/unit/xmpp/xmpp_probe
[ -x "$PROBE" ] || { echo "skip: $PROBE not built"; exit 77; }
netns_init
S=$IPOP_SRC_DIR/scripts
W=$NETNS_TMPDIR/work
mkdir -p "$W"

# fails_with TEXT cmd...: exit status 2 (usage) or 1, and TEXT in stderr.
fails_with() {
  local text=$1 rc=0 err; shift
  err=$("$@" 2>&1 >/dev/null) || rc=$?
  [ "$rc" -ne 0 ] && grep -qF -- "$text" <<<"$err" || { echo "# got rc=$rc: $err"; return 1; }
}
both_accept() {
  "$TINCAN" --check-config -c "$1" >/dev/null && "$CONTROLLER" --check-config -c "$1" >/dev/null
}

echo "# --- new-node-config.sh"
nnc=("$S/new-node-config.sh" --password-file "$W/xmpp.pw" --key-file "$W/control.key"
     --tincan-user nobody --controller-user nobody)
check "group config written" "${nnc[@]}" --mode group --jid alice@example.org --group lab \
  --xmpp-host xmpp.example.org:5222 --subnet 10.254.0.0/16 --address 10.254.1.2 \
  --stun turn.example.org:3478 --turn turn.example.org:3478 --turn-user alice \
  --turn-password-file "$W/turn.pw" --turn 198.18.0.9:5349 --turn-user bob \
  --turn-password-file "$W/turn2.pw" --turn-transport tls --out "$W/group.json"
check "group config passes ipop-tincan and ipop-controller --check-config" both_accept "$W/group.json"
check "group config: two TURN servers, tls transport kept" \
  test "$(jq -r '.Controller.Overlay.Turn[1].Transport' "$W/group.json")" = tls
check "group config: Group and Address" \
  test "$(jq -r '.Controller.Group + " " + .Controller.Overlay.Address' "$W/group.json")" = "lab 10.254.1.2"
check "control key created 0600, owned by the controller's user" \
  test "$(stat -c '%a %U' "$W/control.key")" = "600 nobody"
check "control key: 64 hex digits" grep -Eqx '[0-9a-f]{64}' "$W/control.key"
key_before=$(cat "$W/control.key")
check "social config with names and --check" "${nnc[@]}" --mode social --jid bob@example.org \
  --subnet 10.20.0.0/24 --name alice@example.org=alice-laptop --ca-file /etc/ssl/certs/ca-certificates.crt \
  --tls direct --out "$W/social.json" --check
check "social config passes both --check-config" both_accept "$W/social.json"
check "dual-stack group config (--subnet6, --address6) passes --check-config" \
  "${nnc[@]}" --mode group --jid dave@example.org --group lab --subnet6 fd00:a::/64 \
  --address6 fd00:a::7 --out "$W/group6.json" --check
check "group6: Subnet6 and Address6 written" \
  test "$(jq -r '.Controller.Overlay.Subnet6 + " " + .Controller.Overlay.Address6' "$W/group6.json")" = "fd00:a::/64 fd00:a::7"
check "--subnet6 with a bad value names the option" fails_with "--subnet6" \
  "${nnc[@]}" --mode group --jid dave@example.org --group lab --subnet6 10.0.0.0/8 --out "$W/x.json"
check "an Address6 outside Subnet6 is refused by --check" fails_with "Address6" \
  "${nnc[@]}" --mode group --jid dave@example.org --group lab --subnet6 fd00:a::/64 \
  --address6 fd00:b::7 --out "$W/group6b.json" --check
check "existing control key kept" test "$(cat "$W/control.key")" = "$key_before"
check "no overwrite without --force" fails_with "pass --force" \
  "${nnc[@]}" --mode social --jid bob@example.org --out "$W/social.json"
check "--force overwrites" "${nnc[@]}" --mode social --jid carol@example.org --out "$W/social.json" --force
check "... with the new content" test "$(jq -r .Controller.Xmpp.Jid "$W/social.json")" = carol@example.org
check "stdout output (--out -) is valid JSON" \
  sh -c "$(printf '%q ' "${nnc[@]}") --mode social --jid d@example.org --out - 2>/dev/null | jq -e .Controller"
b=("${nnc[@]}" --out "$W/bad.json")
check "bad --mode named" fails_with "--mode: expected group or social, found 'mesh'" "${b[@]}" --mode mesh --jid a@b.c
check "bad --jid named" fails_with "--jid: expected USER@DOMAIN" "${b[@]}" --mode social --jid nodomain
check "group mode without --group" fails_with "--group NAME is required" "${b[@]}" --mode group --jid a@b.c
check "bad --subnet named" fails_with "--subnet: expected IPv4 CIDR" "${b[@]}" --mode social --jid a@b.c --subnet 10.0.0.0/40
check "--address outside --subnet" fails_with "is not inside --subnet" \
  "${b[@]}" --mode group --group g --jid a@b.c --subnet 10.1.0.0/16 --address 10.2.0.1
check "--turn without --turn-user" fails_with "needs --turn-user" \
  "${b[@]}" --mode social --jid a@b.c --turn t.example:3478 --turn-password-file /x
check "bad --stun named" fails_with "--stun: expected HOST:PORT" "${b[@]}" --mode social --jid a@b.c --stun nohost
check "unknown user for --tincan-user" fails_with "no user 'no-such-user-x'" \
  "${b[@]}" --mode social --jid a@b.c --tincan-user no-such-user-x
check "unknown option named" fails_with "unknown option --frobnicate" "${b[@]}" --frobnicate 1
check "relative --tincan-log-file named" fails_with "--tincan-log-file: expected an absolute file name" \
  "${b[@]}" --mode social --jid a@b.c --tincan-log-file tincan.log
check "directory as --controller-log-file named" fails_with "--controller-log-file: '/tmp' is a directory" \
  "${b[@]}" --mode social --jid a@b.c --controller-log-file /tmp
check "nothing written by the failures" test ! -e "$W/bad.json"
logwarn=$("${nnc[@]}" --mode social --jid e@example.org --tincan-log-file /var/log/ipop/tincan.log \
  --controller-log-file "$W/controller.log" --out "$W/logs.json" 2>&1) || true
check "log files: Tincan.Log.File and Controller.Log.File written" \
  test "$(jq -r '.Tincan.Log.File + " " + .Controller.Log.File' "$W/logs.json")" = "/var/log/ipop/tincan.log $W/controller.log"
check "... a file outside the unit's log directory is warned about" \
  grep -q "warning: --controller-log-file .*only under /var/log/ipop-controller/" <<<"$logwarn"
check "... one inside it is not" eval '! grep -q "warning: --tincan-log-file" <<<"$logwarn"'
check "... both daemons accept it" both_accept "$W/logs.json"
# --check: each daemon names itself.
chk=$("${nnc[@]}" --mode social --jid f@example.org --out "$W/chk.json" --check 2>&1)
check "--check: ipop-tincan says its configuration is valid" \
  grep -q "^ipop-tincan: $W/chk.json: configuration is valid" <<<"$chk"
check "--check: ipop-controller says so too" \
  grep -q "^ipop-controller: $W/chk.json: configuration is valid" <<<"$chk"
# The default user "ipop": created (as sysusers.d would) when missing and
# run as root; tried on a private copy of /etc, so the machine is untouched.
if ! getent passwd ipop >/dev/null && command -v unshare >/dev/null; then
  cp -a /etc "$W/etc"
  out=$(unshare --mount --propagation private sh -c '
    mount --bind "$1/etc" /etc || exit 98; shift
    "$@" && getent passwd ipop' sh "$W" "$S/new-node-config.sh" --password-file "$W/xmpp.pw" \
    --key-file "$W/ipop.key" --mode social --jid g@example.org --out "$W/ipop.json" 2>&1)
  check "default --tincan-user ipop: created when missing (private /etc)" \
    grep -q '^ipop:x:[0-9]*:[0-9]*:ipop VPN daemons:/var/lib/ipop-controller:/usr/sbin/nologin' <<<"$out"
  check "... and said so" grep -q "created the system user 'ipop'" <<<"$out"
  check "... the config names it for both daemons" \
    test "$(jq -r '.Tincan.User + " " + .Tincan.ControllerUser' "$W/ipop.json")" = "ipop ipop"
  check "... the machine's /etc is untouched" sh -c '! getent passwd ipop'
  check "not root: says what to do instead" fails_with "run this script as root to create it" \
    setpriv --reuid=nobody --regid=nogroup --clear-groups "$S/new-node-config.sh" \
    --password-file /nonexistent --key-file /nonexistent --mode social --jid a@b.c --out -
fi

# probe_roster NAME USER PASSFILE: log in as USER on the server in ns xs
# with xmpp_probe; its roster/presence events go to $W/NAME.out.
probe_roster() {
  local name=$1 user=$2 pw=$3
  install -m 600 "$pw" "$W/$name.pw"
  cat >"$W/$name.json" <<JSON
{ "Jid": "$user@$CT_DOMAIN", "PasswordFile": "$W/$name.pw", "Host": "$CT_XMPP_ADDR",
  "Port": $CT_XMPP_PORT, "ResourcePrefix": "ipop-test-", "ConnectTimeout": 10,
  "Tls": { "CaFile": "$CT_XS_DIR/pki/ca.pem" } }
JSON
  # stdin stays open (sleep) so the probe runs until killed by cleanup.
  netns_spawn xs "$W/$name.out" sh -c "sleep 60 | $(printf '%q ' "$PROBE") $W/$name.json node-$name caps-$name"
}
# roster_has NAME JID GROUP: the probe saw JID in its roster, both ways, in GROUP.
roster_has() {
  grep -F '"event":"roster"' "$W/$1.out" | grep -F "\"jid\":\"$2@$CT_DOMAIN\"" |
    grep -F '"subscription":"both"' | grep -qF "\"$3\""
}
online() { grep -qF '"state":"online"' "$W/$1.out"; }

echo "# --- root without sudo, a user with sudo (README's commands)"
# as root with no sudo anywhere in PATH: install-deps.sh just runs
nosudo=$W/nosudo-bin
mkdir -p "$nosudo"
for c in bash env dpkg-query grep id realpath dirname basename cat; do ln -sf "$(command -v $c)" "$nosudo/$c"; done
check "install-deps.sh as root, no sudo in PATH: runs (all installed)" \
  sh -c "PATH='$nosudo' '$S/install-deps.sh' 2>&1 | grep -q 'packages already installed'"
# a user: through sudo (a stand-in that prints its arguments), IPOP_* kept
mkdir -p "$W/fakesudo"; chmod 755 "$NETNS_TMPDIR" "$W" "$W/fakesudo"
printf '#!/bin/sh\necho "sudo-called $*"\n' >"$W/fakesudo/sudo"; chmod 755 "$W/fakesudo/sudo"
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups env -i "$@"; }
for sc in demo.sh test.sh install-deps.sh; do
  out=$(cd / && as_nobody PATH="$W/fakesudo:/usr/bin:/bin" IPOP_BUILD_DIR=/b "$S/$sc" --no-install 2>&1)
  check "$sc as a user with sudo: runs itself through sudo, IPOP_* kept" \
    grep -qx "sudo-called -- env IPOP_BUILD_DIR=/b bash $S/$sc --no-install" <<<"$out"
done
out=$(cd / && as_nobody PATH=/usr/bin:/bin "$S/demo.sh" --no-install 2>&1) || true
check "demo.sh as a user without sudo: says to run it as root" \
  grep -q "needs root and there is no sudo here" <<<"$out"

echo "# --- setup-ejabberd.sh (private ejabberd in a namespace)"
netns_segment pub
ct_xmpp_start
ejctl="ip netns exec $(netns_ns xs) env HOME=$CT_XS_DIR/srv $CT_XS_DIR/srv/ejabberdctl --config-dir $CT_XS_DIR/srv --ctl-config $CT_XS_DIR/srv/ejabberdctl.cfg --logs $CT_XS_DIR/srv/logs --spool $CT_XS_DIR/srv/spool"
read -r -a ejv <<<"$ejctl"
PW=$W/ej-pw
t0=$(date +%s)
check "setup-ejabberd.sh: users, friends, shared roster group" \
  "$S/setup-ejabberd.sh" --domain "$CT_DOMAIN" --ctl "$ejctl" --password-dir "$PW" \
  --user alice --user bob --user carol --friends alice,bob --roster-group pals --group lab=alice,bob,carol
echo "# setup-ejabberd.sh took $(( $(date +%s) - t0 )) s"
check "password files 0600" test "$(stat -c %a "$PW/alice.password" "$PW/carol.password" | sort -u)" = 600
check "alice's password works (check_password)" "${ejv[@]}" check_password alice "$CT_DOMAIN" "$(cat "$PW/alice.password")"
check "carol's password works" "${ejv[@]}" check_password carol "$CT_DOMAIN" "$(cat "$PW/carol.password")"
roster=$("${ejv[@]}" get_roster alice "$CT_DOMAIN" 2>/dev/null || true)
echo "$roster" | sed 's/^/# alice roster: /'
check "get_roster: alice has bob (both, pals)" grep -Eq "^bob@$CT_DOMAIN.*both.*pals" <<<"$roster"
check "srg lab has 3 members" test "$("${ejv[@]}" srg_get_members lab "$CT_DOMAIN" 2>/dev/null | grep -c "@$CT_DOMAIN")" = 3
probe_roster ej-carol carol "$PW/carol.password"
check "carol logs in with her generated password" wait_until 30 online ej-carol
check "carol's roster: alice in shared group lab, subscription both" wait_until 10 roster_has ej-carol alice lab
check "carol's roster: bob in lab" wait_until 10 roster_has ej-carol bob lab
check "carol is not a friend of alice in pals" sh -c "! grep -F '\"pals\"' $W/ej-carol.out | grep -q carol"
pw_before=$(cat "$PW/alice.password")
check "second run (idempotent) succeeds" \
  "$S/setup-ejabberd.sh" --domain "$CT_DOMAIN" --ctl "$ejctl" --password-dir "$PW" \
  --user alice --group lab=alice,bob,carol
check "... and keeps alice's password" test "$(cat "$PW/alice.password")" = "$pw_before"
rm "$PW/bob.password"
check "a deleted password file: new password set on the existing account" \
  "$S/setup-ejabberd.sh" --domain "$CT_DOMAIN" --ctl "$ejctl" --password-dir "$PW" --user bob
check "... and it works" "${ejv[@]}" check_password bob "$CT_DOMAIN" "$(cat "$PW/bob.password")"
check "unreachable node: clear error" fails_with "ejabberd is not running or not reachable" \
  "$S/setup-ejabberd.sh" --domain "$CT_DOMAIN" --ctl "$ejctl --node nobody@localhost" --password-dir "$PW" --user x
check "bad --group named" fails_with "--group: expected NAME=A,B" \
  "$S/setup-ejabberd.sh" --domain "$CT_DOMAIN" --group "lab"
check "nothing to do" fails_with "nothing to do" "$S/setup-ejabberd.sh" --domain "$CT_DOMAIN"
# --stun: edits a copy of the server's config and reloads it; ejabberd
# then answers STUN binding requests on the new UDP port.
check "setup-ejabberd.sh --stun adds an ejabberd_stun listener" \
  "$S/setup-ejabberd.sh" --domain "$CT_DOMAIN" --ctl "$ejctl" --config "$CT_XS_DIR/srv/ejabberd.yml" \
  --stun "$CT_XMPP_ADDR:3479"
stun_answers() {
  netns_exec xs timeout 1 turnutils_stunclient -p 3479 "$CT_XMPP_ADDR" 2>&1 | grep -q 'UDP reflexive addr'
}
check "ejabberd's STUN answers on udp 3479" wait_until 20 stun_answers
check "--stun twice: listener not duplicated" sh -c "$(printf '%q ' "$S/setup-ejabberd.sh" --domain "$CT_DOMAIN" \
  --ctl "$ejctl" --config "$CT_XS_DIR/srv/ejabberd.yml" --stun "$CT_XMPP_ADDR:3479") >/dev/null &&
  [ \$(grep -c ejabberd_stun $CT_XS_DIR/srv/ejabberd.yml) = 1 ]"

echo "# --- setup-prosody.sh (private Prosody in a namespace)"
netns_reset
CT_XMPP_KIND=prosody
netns_segment pub
ct_xmpp_start        # Prosody: configured (groups_file, mod_groups), not started yet
PP=$W/prosody-pw
pctl="prosodyctl --config $CT_XS_DIR/srv/prosody.cfg.lua"
check "setup-prosody.sh: users, friends, group" \
  "$S/setup-prosody.sh" --domain "$CT_DOMAIN" --ctl "$pctl" --config "$CT_XS_DIR/srv/prosody.cfg.lua" \
  --groups-file "$CT_XS_DIR/srv/groups.txt" --password-dir "$PP" \
  --user alice --user bob --user carol --friends alice,bob --roster-group pals --group lab=alice,bob,carol
check "second run replaces sections, does not duplicate them" \
  "$S/setup-prosody.sh" --domain "$CT_DOMAIN" --ctl "$pctl" --config "$CT_XS_DIR/srv/prosody.cfg.lua" \
  --groups-file "$CT_XS_DIR/srv/groups.txt" --password-dir "$PP" --user alice --group lab=alice,bob,carol
check "groups file: one [lab], one [pals]" \
  test "$(grep -c '^\[lab\]$' "$CT_XS_DIR/srv/groups.txt") $(grep -c '^\[pals\]$' "$CT_XS_DIR/srv/groups.txt")" = "1 1"
sed 's/^/# groups.txt: /' "$CT_XS_DIR/srv/groups.txt"
ct_xmpp_restart
probe_roster pr-alice alice "$PP/alice.password"
check "alice logs in to Prosody with her generated password" wait_until 30 online pr-alice
check "alice's roster: bob in pals, subscription both" wait_until 10 roster_has pr-alice bob pals
check "alice's roster: carol in lab" wait_until 10 roster_has pr-alice carol lab
check "bad --friends named" fails_with "--friends: expected A,B" \
  "$S/setup-prosody.sh" --domain "$CT_DOMAIN" --friends alice

echo "# --- setup-coturn.sh (turnserver on loopback in a namespace)"
netns_host turn
TD=$W/turn
check "setup-coturn.sh writes config and users" \
  "$S/setup-coturn.sh" --realm ipop.test --listen 127.0.0.1 --port 3478 --min-port 50000 --max-port 50100 \
  --user alice --user bob --db "$TD/turndb" --config "$TD/turnserver.conf" --password-dir "$TD/pw" \
  --pidfile "$TD/turnserver.pid"
check "TURN password files 0600" test "$(stat -c %a "$TD/pw/alice.password")" = 600
netns_spawn turn "$TD/turnserver.log" turnserver -c "$TD/turnserver.conf" --log-file=stdout --simple-log -v
stun_local() { netns_exec turn timeout 1 turnutils_stunclient -p 3478 127.0.0.1 2>&1 | grep -q 'UDP reflexive addr'; }
check "turnserver runs with the written config (STUN answers)" wait_until 20 stun_local
# uclient USER PASSWORD: one TURN allocation with long-term credentials
# (then a channel bind to a loopback peer, which the config forbids).
uclient() {
  netns_exec turn timeout 10 turnutils_uclient -n 1 -m 1 -u "$1" -w "$2" -r ipop.test \
    -e 127.0.0.1 127.0.0.1 2>&1 || true
}
allocated() { ! uclient "$1" "$2" | grep -q "Cannot complete Allocation"; }
refused() { uclient "$1" "$2" | grep -q "Cannot complete Allocation"; }
check "alice allocates a relay with her password" allocated alice "$(cat "$TD/pw/alice.password")"
check "turnserver logged alice's successful ALLOCATE" \
  wait_file "$TD/turnserver.log" "user <alice>.*ALLOCATE processed, success" 5
check "a wrong password is refused" refused alice wrong-password
check "a foreign config file is not overwritten without --force" fails_with "pass --force" \
  "$S/setup-coturn.sh" --realm ipop.test --listen 127.0.0.1 --config /dev/null
check "setup-coturn.sh: --listen required" fails_with "--listen IP is required" \
  "$S/setup-coturn.sh" --realm ipop.test
check "setup-coturn.sh: bad --port named" fails_with "--port: expected 1..65535, found '0'" \
  "$S/setup-coturn.sh" --realm ipop.test --listen 127.0.0.1 --port 0

[ "$TC_FAILS" -eq 0 ]
