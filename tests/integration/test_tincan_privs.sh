#!/usr/bin/env bash
# ipop-tincan's privileges, checked from outside the process: a tincan
# started by hand as root (no systemd, no setpriv) must end with exactly
# what docs/security.md says it keeps (/proc/PID/status: uid, gids, groups,
# CapInh/Prm/Eff/Bnd/Amb, NoNewPrivs), and an execve made *by that
# process* (gdb injects execl() into it, as an attacker with code execution
# would) must gain nothing: no capability, neither from a setuid-root nor
# from a file-capability binary.  Also: an unknown Tincan.User stops tincan
# before it creates anything; "User": "" stays uid 0 with a warning and the
# same limits; the log file is opened as Tincan.User, never through a
# symbolic link an attacker planted, never someone else's file; a TAP
# device tincan did not create (a persistent TAP of another user) is
# refused, named, and left as it was.
set -euo pipefail
. "$(dirname "$0")/tincan_helpers.sh"
tc_skip_unless_ready
for t in gdb setcap; do
  command -v "$t" >/dev/null || { echo "skip: $t missing (scripts/install-deps.sh)"; exit 77; }
done
netns_init
netns_host a

chmod 755 "$NETNS_TMPDIR"
d=$NETNS_TMPDIR/privs
mkdir -p "$d"
install -d -o nobody -m 0755 "$d/log"       # the log directory belongs to Tincan.User
nobody_uid=$(id -u nobody); nobody_gid=$(id -g nobody)

# config FILE USER-JSON [LOGFILE]: a config.json for host a.
config() {
  cat >"$1" <<JSON
{ "Control": { "Tincan": "127.0.0.1:5800", "Controller": "127.0.0.1:5801",
               "KeyFile": "$d/control.key" },
  "Tincan": { $2 "IdentityFile": "$d/identity.pem",
              "Log": { "Level": "debug", "File": "${3:-}" } } }
JSON
}
ctl() { netns_exec a "$IPOPCTL" -k "$d/control.key" -s 127.0.0.1:5800 "$@"; }
status_of() { grep -E "^$2:" "/proc/$1/status" | cut -f2- | tr -s '\t ' ' ' | sed 's/ $//'; }
# start LOG CONFIG: tincan in a, started by hand; waits for its echo.
start() {
  netns_spawn a "$1" "$TINCAN" -c "$2"
  TC=$NETNS_LAST_PID
  wait_until 10 ctl -T 0.5 echo up >/dev/null
}

# 1. A Tincan.User that does not exist stops tincan before it creates its
# key or identity.
config "$d/unknown.json" '"User": "no-such-user-ipop",'
set +e
netns_exec a timeout 10 "$TINCAN" -c "$d/unknown.json" >"$d/unknown.log" 2>&1; rc=$?
set -e
check "unknown Tincan.User: exit code 1 (got $rc)" test "$rc" = 1
check "... the log names the key and the user" \
  grep -q 'Tincan.User: no user "no-such-user-ipop"' "$d/unknown.log"
check "... nothing was created" test ! -e "$d/control.key" -a ! -e "$d/identity.pem"
if ! id ipop >/dev/null 2>&1; then
  config "$d/default.json" ''
  set +e
  netns_exec a timeout 10 "$TINCAN" -c "$d/default.json" >"$d/default.log" 2>&1; rc=$?
  set -e
  check "no Tincan.User and no user ipop (the default): exit code 1 (got $rc)" test "$rc" = 1
  check "... the log names the default user" grep -q 'Tincan.User: no user "ipop"' "$d/default.log"
fi

# 2. Symbolic link attack on the log file: whoever can write the log
# directory (here Tincan.User itself) points tincan.log at a file of
# root's.  tincan must refuse to start rather than append to that file.
echo precious >"$d/root-file"; chmod 644 "$d/root-file"
ln -s "$d/root-file" "$d/log/tincan.log"
config "$d/symlink.json" '"User": "nobody",' "$d/log/tincan.log"
set +e
netns_exec a timeout 10 "$TINCAN" -c "$d/symlink.json" >"$d/symlink.log" 2>&1; rc=$?
set -e
check "log file is a symbolic link: exit code 1 (got $rc)" test "$rc" = 1
check "... the log says why" grep -q 'Tincan.Log.File: cannot open .*tincan.log: it is a symbolic link' \
  "$d/symlink.log"
check "... root's file is untouched" test "$(cat "$d/root-file")" = precious
rm -f "$d/log/tincan.log"

# 3. The normal case: Tincan.User nobody, log file in nobody's directory.
config "$d/config.json" '"User": "nobody",' "$d/log/tincan.log"
start "$d/tincan.log" "$d/config.json"
check "tincan answers" ctl echo hi
check "log file created by Tincan.User" test "$(stat -c %U "$d/log/tincan.log")" = nobody
check "... and written" grep -q "running as uid $nobody_uid" "$d/log/tincan.log"
check "Uid: all four are nobody's" test "$(status_of "$TC" Uid)" = \
  "$nobody_uid $nobody_uid $nobody_uid $nobody_uid"
check "Gid: all four are nobody's group" test "$(status_of "$TC" Gid)" = \
  "$nobody_gid $nobody_gid $nobody_gid $nobody_gid"
check "Groups: only nobody's group" test "$(status_of "$TC" Groups)" = "$nobody_gid"
check "CapEff = CapPrm = CAP_NET_ADMIN" \
  test "$(status_of "$TC" CapEff) $(status_of "$TC" CapPrm)" = "0000000000001000 0000000000001000"
check "CapBnd = CAP_NET_ADMIN (bounding set reduced by tincan itself)" \
  test "$(status_of "$TC" CapBnd)" = 0000000000001000
check "CapInh and CapAmb empty" \
  test "$(status_of "$TC" CapInh) $(status_of "$TC" CapAmb)" = "0000000000000000 0000000000000000"
check "NoNewPrivs 1" test "$(status_of "$TC" NoNewPrivs)" = 1

# configure_logging cannot be used for the same attack at run time.
ln -s "$d/root-file" "$d/log/evil.log"
set +e
err=$(ctl configure-logging debug --file "$d/log/evil.log" 2>&1)
set -e
check "configure_logging to a symbolic link refused" grep -q 'symbolic link' <<<"$err"
install -m 0666 -o 4243 /dev/null "$d/log/other.log"   # writable, but not ours
set +e
err=$(ctl configure-logging debug --file "$d/log/other.log" 2>&1)
set -e
check "configure_logging to another user's file refused" grep -q 'owned by another user' <<<"$err"
check "... and left empty" test ! -s "$d/log/other.log"
check "... root's file still untouched" test "$(cat "$d/root-file")" = precious

# 4. TAP exclusivity: a persistent TAP that belongs to another user exists.
# tincan holds CAP_NET_ADMIN, which would let it attach; it must not.
ns=$(netns_ns a)
ip -n "$ns" tuntap add dev foreign0 mode tap user 4242
set +e
err=$(ctl -j call create_overlay \
  '{"overlay_id":"ov","node_id":"n1","tap_name":"foreign0","ip4":"10.254.0.1","mtu":1400}' 2>&1)
rc=$?
set -e
check "create_overlay on a foreign persistent TAP fails (exit $rc)" test "$rc" = 1
check "... the error names the device" grep -q 'tap_name: a network device named foreign0 exists' <<<"$err"
check "... the device is left as it was (MTU, no address, down, owner)" \
  sh -c "ip -n $ns -d link show foreign0 | grep -q 'mtu 1500 ' &&
         ! ip -n $ns -4 addr show foreign0 | grep -q inet &&
         ! ip -n $ns link show foreign0 | grep -q ',UP' &&
         ip -n $ns -d link show foreign0 | grep -q 'user 4242'"
check "a new TAP is still created" ctl -j call create_overlay \
  '{"overlay_id":"ov","node_id":"n1","tap_name":"ipop0","ip4":"10.254.0.1"}' >/dev/null
ip -n "$ns" tuntap del dev foreign0 mode tap

# 5. execve from the running tincan gains nothing.  The helper reports its
# own status, then tries a setuid-root and a file-capability binary.
install -d -m 0755 "$d/bin"
cp /usr/bin/id "$d/bin/suid-id"; chmod 4755 "$d/bin/suid-id"
cp /bin/cat "$d/bin/cap-cat"; setcap cap_dac_override,cap_sys_admin+ep "$d/bin/cap-cat"
# Readable only with CAP_DAC_OVERRIDE, for uid 0 too (not its owner).
echo secret >"$d/secret"; chown 4243 "$d/secret"; chmod 600 "$d/secret"
cat >"$d/bin/helper.sh" <<'SH'
#!/bin/sh
out=$1
grep -E '^(Uid|Gid|Groups|Cap|NoNewPrivs)' /proc/self/status >"$out/status"
"${0%/*}/suid-id" -u >"$out/suid-euid" 2>&1
"${0%/*}/cap-cat" "${0%/*}/../secret" >/dev/null 2>"$out/cap-cat"; echo "rc=$?" >>"$out/cap-cat"
echo done >"$out/done"
SH
chmod 755 "$d/bin/helper.sh"
# exec_in PID OUTDIR: make process PID execve the helper.
exec_in() {
  install -d -o nobody -m 0777 "$2"
  gdb -p "$1" -batch -nx \
    -ex "call (int)execl(\"/bin/sh\", \"sh\", \"$d/bin/helper.sh\", \"$2\", (char *)0)" \
    >"$2.gdb.log" 2>&1 || true
  wait_until 10 test -e "$2/done"
}
field() { grep -E "^$2:" "$1/status" | cut -f2- | tr -s '\t ' ' ' | sed 's/ $//'; }
check "helper exec'd from tincan (user nobody)" exec_in "$TC" "$d/exec-user"
o=$d/exec-user
check "... runs as nobody" test "$(field "$o" Uid)" = "$nobody_uid $nobody_uid $nobody_uid $nobody_uid"
check "... with no capability (CapPrm/CapEff/CapInh/CapAmb 0)" test \
  "$(field "$o" CapPrm)$(field "$o" CapEff)$(field "$o" CapInh)$(field "$o" CapAmb)" = \
  "0000000000000000000000000000000000000000000000000000000000000000"
check "... bounding set still CAP_NET_ADMIN, NoNewPrivs 1" \
  test "$(field "$o" CapBnd) $(field "$o" NoNewPrivs)" = "0000000000001000 1"
check "... a setuid-root program stays uid nobody" test "$(cat "$o/suid-euid")" = "$nobody_uid"
check "... a file-capability program cannot read a 0600 file of another user" \
  sh -c "! grep -qx 'rc=0' '$o/cap-cat'"

# 6. "User": "" keeps uid 0, warns, and limits it all the same.
config "$d/root.json" '"User": "",' "$d/root.log"
start "$d/tincan-root.log" "$d/root.json"
check "User \"\": tincan answers" ctl echo hi
check "... warns at start" grep -q 'warn.*Tincan.User is "": staying uid 0' "$d/tincan-root.log"
check "... Uid 0, CapEff/CapPrm/CapBnd CAP_NET_ADMIN, NoNewPrivs 1" test \
  "$(status_of "$TC" Uid) $(status_of "$TC" CapEff) $(status_of "$TC" CapPrm) $(status_of "$TC" CapBnd) $(status_of "$TC" NoNewPrivs)" = \
  "0 0 0 0 0000000000001000 0000000000001000 0000000000001000 1"
set +e
err=$(ctl configure-logging debug --file "$d/other-root.log" 2>&1)
set -e
check "... configure_logging may reopen only Tincan.Log.File" \
  grep -q 'only Tincan.Log.File may be' <<<"$err"
check "helper exec'd from tincan (uid 0)" exec_in "$TC" "$d/exec-root"
o=$d/exec-root
check "... uid 0 without any capability (SECBIT_NOROOT)" test \
  "$(field "$o" CapPrm)$(field "$o" CapEff)$(field "$o" CapAmb)" = \
  "000000000000000000000000000000000000000000000000"
check "... a file-capability program cannot read a 0600 file of another user" \
  sh -c "! grep -qx 'rc=0' '$o/cap-cat'"

# 7. The /dev/net/tun opener (tincan/tunopen.h).  tincan runs in a mount
# namespace whose /dev/net/tun is a fresh 0600 root node, whatever the
# host's mode, so every TAP must come through the opener.  What it keeps is
# read from outside; then 40 overlays are created and removed (more than the
# 16 spare descriptors of the old design, which 16 controller restarts used
# up), and tincan must not keep one descriptor more than before.
netns_kill "$TC"
netns_spawn a "$d/tincan-tun.log" unshare --mount --propagation private sh -c '
  mount -t tmpfs -o mode=755 tmpfs /dev/net && mknod -m 600 /dev/net/tun c 10 200 &&
  exec "$@"' sh "$TINCAN" -c "$d/config.json"
TC=$NETNS_LAST_PID
wait_until 10 ctl -T 0.5 echo up >/dev/null
opener() { pgrep -P "$TC" -x ipop-tincan-tun; }
check "tincan has one child, the opener" test "$(pgrep -P "$TC" | wc -l) $(opener | wc -l)" = "1 1"
OP=$(opener)
check "opener: Uid 0, no capability in any set, NoNewPrivs 1" test \
  "$(status_of "$OP" Uid) $(status_of "$OP" CapInh)$(status_of "$OP" CapPrm)$(status_of "$OP" CapEff)$(status_of "$OP" CapBnd)$(status_of "$OP" CapAmb) $(status_of "$OP" NoNewPrivs)" = \
  "0 0 0 0 $(printf '0%.0s' {1..80}) 1"
check "opener: its root directory is /dev/net" test "$(readlink "/proc/$OP/root")" = /dev/net
check "opener: four descriptors, 3 is a socket" \
  test "$(ls "/proc/$OP/fd" | sort -n | paste -sd,) $(readlink "/proc/$OP/fd/3" | cut -d: -f1)" = "0,1,2,3 socket"
check "the device here is root-only" \
  test "$(netns_exec a nsenter -t "$TC" -m stat -c '%a %u' /dev/net/tun)" = "600 0"
fds_before=$(ls "/proc/$TC/fd" | wc -l)
cycle_ok=0
for i in $(seq 1 40); do
  ctl call create_overlay "{\"overlay_id\":\"ov$i\",\"node_id\":\"n1\",\"tap_name\":\"tun$((i % 3))\",\"ip4\":\"10.254.0.1\"}" \
    >/dev/null 2>"$d/cycle.err" || break
  ctl call remove_overlay "{\"overlay_id\":\"ov$i\"}" >/dev/null 2>>"$d/cycle.err" || break
  cycle_ok=$i
done
check "40 overlays created and removed as nobody with a 0600 device (got $cycle_ok: $(head -c 300 "$d/cycle.err"))" \
  test "$cycle_ok" = 40
check "tincan keeps no descriptor more than before ($fds_before)" \
  test "$(ls "/proc/$TC/fd" | wc -l)" = "$fds_before"
check "the opener is still the same process" test "$(opener)" = "$OP"
kill -KILL "$TC"
check "tincan killed with SIGKILL: the opener exits too" wait_until 10 sh -c "! kill -0 $OP 2>/dev/null"
check "no sanitizer report" sh -c "! grep -Eq 'Sanitizer|runtime error' '$d'/*.log"
[ "$TC_FAILS" -eq 0 ]
