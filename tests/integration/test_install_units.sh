#!/usr/bin/env bash
# Installation: `cmake --install` into a scratch DESTDIR puts every file in
# its place; the systemd units pass `systemd-analyze verify` (and name the
# installed programs); sysusers.d/tmpfiles.d apply to a scratch root; the
# man pages are lint-free (groff).  As root with namespaces it also runs the
# installed ipop-tincan under the restrictions of ipop-tincan.service's
# capability bounding set + NoNewPrivileges (setpriv): it must create its
# key for another user, restart reading that key, make a TAP and end with
# CAP_NET_ADMIN only (the bounding set too, which tincan reduces itself from
# the unit's seven), also with the file system read-only except the unit's
# writable paths (ProtectSystem=strict), and ipop-controller next to it as
# its unit runs it (no capabilities, read-only but its state directory).
# Negative controls: without CAP_DAC_READ_SEARCH the restart fails, without
# CAP_FOWNER creating the key fails, without CAP_SETPCAP tincan refuses to
# run (it could not reduce its bounding set).  The machinery (the unit's
# limits without systemd) is in unit_limits.sh, shared with
# test_package.sh.  The same limits without systemd or setpriv, and execve
# from tincan: test_tincan_privs.sh.
set -uo pipefail
: "${IPOP_SRC_DIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${IPOP_BUILD_DIR:=$IPOP_SRC_DIR/build}"
[ -x "$IPOP_BUILD_DIR/tincan/ipop-tincan" ] || { echo "skip: not built"; exit 77; }
command -v cmake >/dev/null || { echo "skip: no cmake"; exit 77; }

fails=0
check() {
  local what=$1; shift
  if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; fails=$((fails+1)); fi
}
# quiet CMD...: succeeds when CMD succeeds and prints nothing at all.
quiet() {
  local out
  out=$("$@" 2>&1) || { printf '  %s\n' "$out"; return 1; }
  [ -z "$out" ] || { printf '  %s\n' "$out"; return 1; }
}

work=$(mktemp -d /tmp/ipop-install.XXXXXX)
cleanup_work() { rm -rf "$work"; }
trap cleanup_work EXIT
root=$work/root

# 1. DESTDIR install with the Debian prefix, and a plain --prefix install.
if ! DESTDIR=$root cmake --install "$IPOP_BUILD_DIR" --prefix /usr >"$work/install.log" 2>&1; then
  cat "$work/install.log"; echo "FAIL - cmake --install"; exit 1
fi
echo "ok   - cmake --install (DESTDIR, --prefix /usr)"
units=$root/usr/lib/systemd/system
for f in usr/sbin/ipop-tincan usr/sbin/ipop-controller usr/bin/ipopctl \
         usr/lib/systemd/system/ipop-tincan.service \
         usr/lib/systemd/system/ipop-controller.service \
         usr/lib/sysusers.d/ipop.conf usr/lib/tmpfiles.d/ipop.conf \
         usr/share/doc/ipop/config.json.sample usr/share/doc/ipop/configuration.md \
         usr/share/man/man8/ipop-tincan.8 usr/share/man/man8/ipop-controller.8; do
  check "installed $f" test -s "$root/$f"
done
for m in "$IPOP_SRC_DIR"/man/*.[18]; do
  [ -e "$m" ] || continue
  sec=${m##*.}
  check "installed man$sec/$(basename "$m")" test -s "$root/usr/share/man/man$sec/$(basename "$m")"
done
check "programs are executable" test -x "$root/usr/sbin/ipop-tincan" -a -x "$root/usr/bin/ipopctl"
check "ExecStart names /usr/sbin/ipop-tincan" \
  grep -qx 'ExecStart=/usr/sbin/ipop-tincan --config /etc/ipop/config.json' "$units/ipop-tincan.service"
check "ExecStart names /usr/sbin/ipop-controller" \
  grep -qx 'ExecStart=/usr/sbin/ipop-controller --config /etc/ipop/config.json' \
  "$units/ipop-controller.service"
check "installed ipop-tincan runs (--version)" "$root/usr/sbin/ipop-tincan" --version
check "installed sample config is valid for ipop-controller" \
  "$root/usr/sbin/ipop-controller" --check-config -c "$root/usr/share/doc/ipop/config.json.sample"

if cmake --install "$IPOP_BUILD_DIR" --prefix "$work/prefix" >"$work/install2.log" 2>&1; then
  check "--prefix P: units name P/sbin" grep -q "^ExecStart=$work/prefix/sbin/ipop-tincan " \
    "$work/prefix/lib/systemd/system/ipop-tincan.service"
else
  cat "$work/install2.log"; check "cmake --install --prefix" false
fi

# 2. The units: systemd-analyze verify against the scratch root (the host's
# own units supply the targets they reference); any message is a failure.
if command -v systemd-analyze >/dev/null; then
  for d in /usr/lib/systemd/system /lib/systemd/system; do
    [ -d "$d" ] && cp -rn "$d"/. "$units"/ 2>/dev/null && break
  done
  for u in ipop-tincan ipop-controller; do
    check "systemd-analyze verify $u.service" quiet systemd-analyze --man=no verify \
      --root="$root" "/usr/lib/systemd/system/$u.service"
  done
  # The exposure score is informational (lower is better).
  for u in ipop-tincan ipop-controller; do
    systemd-analyze --man=no security --offline=yes --root="$root" \
      "/usr/lib/systemd/system/$u.service" 2>/dev/null | grep 'Overall exposure' | sed 's/^/# /'
  done
  sed 's/^ProtectSystem=strict/ProtectSystem=sometimes/' "$units/ipop-tincan.service" \
    >"$units/ipop-broken.service"
  check "verify reports a broken unit (control)" eval "! quiet systemd-analyze --man=no verify \
    --root='$root' /usr/lib/systemd/system/ipop-broken.service >/dev/null"
  rm -f "$units/ipop-broken.service"
else
  echo "# systemd-analyze missing: unit verification skipped"
fi
if command -v systemd-sysusers >/dev/null && [ "$(id -u)" = 0 ]; then
  check "sysusers.d creates user ipop" \
    sh -c "mkdir -p '$root/etc' && systemd-sysusers --root='$root' >/dev/null 2>&1 &&
           grep -q '^ipop:x:[0-9]*:[0-9]*:.*:/usr/sbin/nologin' '$root/etc/passwd'"
fi
if command -v systemd-tmpfiles >/dev/null; then
  check "tmpfiles.d creates /etc/ipop 0755" \
    sh -c "systemd-tmpfiles --root='$root' --create >/dev/null 2>&1 &&
           [ \"\$(stat -c %a '$root/etc/ipop')\" = 755 ]"
  # tincan opens its log file as Tincan.User (ipop): the directory is ipop's.
  check "tmpfiles.d creates /var/log/ipop 0750 for user ipop" \
    sh -c "[ \"\$(stat -c %a '$root/var/log/ipop')\" = 750 ] &&
           [ \"\$(stat -c %u '$root/var/log/ipop')\" = \"\$(sed -n 's/^ipop:x:\([0-9]*\):.*/\1/p' '$root/etc/passwd')\" ]"
fi

# 3. Man pages: groff with every warning on must say nothing.
if command -v groff >/dev/null; then
  for m in "$root"/usr/share/man/man[18]/*; do
    check "man page $(basename "$m") lints clean" quiet groff -man -ww -z -Tutf8 "$m"
    check "man page $(basename "$m") has NAME/SYNOPSIS/DESCRIPTION" \
      sh -c "grep -q '^\.SH NAME' '$m' && grep -q '^\.SH SYNOPSIS' '$m' && grep -q '^\.SH DESCRIPTION' '$m'"
  done
else
  echo "# groff missing: man pages not linted"
fi

# 4. ipop-tincan under the unit's privilege limits (root + namespaces),
# with the machinery of unit_limits.sh (test_package.sh uses it too).
can_run=0
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && [ -c /dev/net/tun ]; then
  . "$IPOP_SRC_DIR/tests/lib/netns.sh"
  . "$IPOP_SRC_DIR/tests/integration/unit_limits.sh"
  netns_can_run 2>/dev/null && can_run=1
fi
if [ "$can_run" = 1 ]; then
  trap - EXIT
  netns_init
  netns_defer rm -rf "$work"
  netns_host a
  d=$NETNS_TMPDIR/tc
  mkdir -p "$d"
  # The key goes to "nobody" (as it would to the controller's user "ipop").
  cat >"$d/config.json" <<JSON
{ "Control": { "KeyFile": "$d/etc/control.key" },
  "Tincan": { "User": "nobody", "ControllerUser": "nobody",
              "IdentityFile": "$d/state/identity.pem" },
  "Controller": { "StateDir": "$d/cstate" } }
JSON
  chmod 755 "$NETNS_TMPDIR" "$d"
  mkdir -m 0755 "$d/etc"   # /etc/ipop as tmpfiles.d/ipop.conf makes it
  # The unit's set, and what it must be: a new capability is a decision.
  caps=$(ul_unit_caps "$units/ipop-tincan.service")
  check "the unit's bounding set is the reviewed one ($caps)" \
    test "$caps" = -all,+chown,+dac_read_search,+fowner,+net_admin,+setgid,+setpcap,+setuid
  ctl() { netns_exec a "$root/usr/bin/ipopctl" -k "$d/etc/control.key" -t "$@"; }
  # start_tc CAPS [RW_DIRS]: the installed tincan with only CAPS, as systemd would.
  start_tc() {
    NRUN=$((NRUN + 1))
    ul_spawn a "$d/tincan-$NRUN.log" "${2:-}" "$1" -- "$root/usr/sbin/ipop-tincan" -c "$d/config.json"
    TC=$UL_PID
  }
  NRUN=0
  start_tc "$caps"
  check "tincan answers with the unit's capabilities" wait_until 20 ctl echo up
  check "key file created for the controller's user, 0600" \
    test "$(stat -c '%U %a' "$d/etc/control.key")" = "nobody 600"
  check "runs as nobody with CAP_NET_ADMIN only" ul_has_caps "$TC" 0000000000001000 nobody
  check "bounding set reduced from the unit's seven to CAP_NET_ADMIN by tincan" \
    sh -c "grep -q '^CapBnd:[[:space:]]*0000000000001000' /proc/$TC/status &&
           grep -q '^CapPrm:[[:space:]]*0000000000001000' /proc/$TC/status &&
           grep -q '^CapInh:[[:space:]]*0000000000000000' /proc/$TC/status &&
           grep -q '^CapAmb:[[:space:]]*0000000000000000' /proc/$TC/status"
  make_tap() {
    ctl call create_overlay \
      '{"overlay_id":"ov","node_id":"n1","tap_name":"ipop0","ip4":"10.254.0.1"}' >/dev/null &&
      ip -n "$(netns_ns a)" -4 addr show ipop0 | grep -q 10.254.0.1/24
  }
  check "creates a TAP after dropping root" make_tap
  # The root /dev/net/tun opener (tincan/tunopen.h): no CAP_SYS_CHROOT here,
  # so not chrooted, but uid 0 with no capability in any set.
  op=$(pgrep -P "$TC" -x ipop-tincan-tun || true)
  check "the /dev/net/tun opener runs with no capability, bounding set empty" \
    sh -c "[ -n '$op' ] && grep -q '^Uid:[[:space:]]*0[[:space:]]' /proc/$op/status &&
           grep -q '^CapEff:[[:space:]]*0000000000000000' /proc/$op/status &&
           grep -q '^CapBnd:[[:space:]]*0000000000000000' /proc/$op/status &&
           grep -q '^NoNewPrivs:[[:space:]]*1' /proc/$op/status"
  kill -TERM "$TC"
  check "exits on SIGTERM" wait_until 10 ul_gone "$TC"
  start_tc "$caps"
  check "restart reads the controller-owned key" wait_until 20 ctl echo again
  kill -TERM "$TC"
  wait_until 10 ul_gone "$TC"
  start_tc "${caps/,+dac_read_search/}"
  check "without CAP_DAC_READ_SEARCH the key is unreadable (control)" wait_until 20 ul_gone "$TC"
  check "... and the log says why" grep -q 'Control.KeyFile: cannot open key file .*Permission denied' \
    "$d/tincan-$NRUN.log"
  # ProtectSystem=strict with the unit's writable paths (ReadWritePaths=
  # /etc/ipop, StateDirectory=ipop): everything else read-only.  A first
  # start there must create the key and the identity and make a TAP.
  rm -f "$d/etc/control.key" "$d/state/identity.pem" "$d/ro-probe"
  mkdir -p -m 0700 "$d/state"
  UL_RO_PROBE=$d/ro-probe start_tc "$caps" "$d/etc:$d/state"
  check "read-only system: first start answers" wait_until 20 ctl echo strict
  check "read-only system: key and identity created in the writable paths" \
    test -s "$d/etc/control.key" -a -s "$d/state/identity.pem" -a ! -e "$d/ro-probe"
  ctl call remove_overlay '{"overlay_id":"ov"}' >/dev/null 2>&1
  check "read-only system: creates a TAP" make_tap
  # ipop-controller.service: user nobody here (ipop there), no capabilities,
  # NoNewPrivileges, read-only but for its StateDirectory.
  mkdir -p "$d/cstate"; chown nobody "$d/cstate"
  ul_spawn a "$d/controller.log" "$d/cstate" "$(ul_unit_caps "$units/ipop-controller.service")" \
    --user nobody:nogroup -- "$root/usr/sbin/ipop-controller" -c "$d/config.json"
  CP=$UL_PID
  ctrl_sees_tincan() {
    netns_exec a "$root/usr/bin/ipopctl" -k "$d/etc/control.key" -j status 2>/dev/null |
      grep -Eq '"tincan": *"up"'
  }
  check "controller (no capabilities, read-only system) reads the key, reaches tincan" \
    wait_until 20 ctrl_sees_tincan
  check "controller runs as nobody with no capabilities" ul_has_caps "$CP" 0000000000000000 nobody
  check "controller wrote its node id into its state directory" test -s "$d/cstate/node_id"
  kill -TERM "$CP"
  check "controller exits on SIGTERM" wait_until 10 ul_gone "$CP"
  kill -TERM "$TC"
  check "read-only system: exits on SIGTERM" wait_until 10 ul_gone "$TC"

  start_tc "${caps/,+setpcap/}"
  check "without CAP_SETPCAP tincan refuses to run (control)" wait_until 20 ul_gone "$TC"
  check "... and the log says why" \
    grep -q 'Tincan.User: cannot remove cap_[a-z_]* from the capability bounding set' \
    "$d/tincan-$NRUN.log"

  rm -f "$d/etc/control.key"
  start_tc "${caps/,+fowner/}"
  check "without CAP_FOWNER a new key for another user cannot be published (control)" \
    wait_until 20 ul_gone "$TC"
  check "... and the log says why" grep -q 'Control.KeyFile: cannot create key file .*Operation not permitted' \
    "$d/tincan-$NRUN.log"
  check "no sanitizer report in any daemon log" \
    sh -c "! grep -Eq 'Sanitizer|runtime error' '$d'/tincan-*.log '$d/controller.log'"
else
  echo "# not root or no namespaces: privilege check skipped"
fi

echo "# $fails failure(s)"
[ "$fails" -eq 0 ]
