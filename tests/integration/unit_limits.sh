# shellcheck shell=bash
# The daemons under the limits their systemd units set, without systemd
# (PID 1 here is not systemd): CapabilityBoundingSet= and NoNewPrivileges=
# through setpriv, User=/Group= of ipop-controller.service, and
# ProtectSystem=strict as a private mount namespace whose root is
# read-only except the unit's writable paths.  Used by
# test_install_units.sh (a DESTDIR install) and test_package.sh (the
# installed Debian package).  Needs tests/lib/netns.sh.
#
#   caps=$(ul_unit_caps /usr/lib/systemd/system/ipop-tincan.service)
#   ul_spawn a tc.log "/etc/ipop:/var/lib/ipop" "$caps" -- /usr/sbin/ipop-tincan -c CFG
#   ul_spawn a ct.log /var/lib/ipop-controller -all --user ipop:ipop -- /usr/sbin/ipop-controller -c CFG
#   ul_has_caps "$UL_PID" 0000000000001000 ipop      # CapEff, uid

# ul_unit_caps UNITFILE: its CapabilityBoundingSet= as setpriv's
# --bounding-set ("-all,+chown,+net_admin,..."; "-all" for none).
ul_unit_caps() {
  local c
  c=$(sed -n 's/^CapabilityBoundingSet=//p' "$1" | tr 'A-Z ' 'a-z\n' | sed -n 's/^cap_/+/p' |
      sort | paste -sd, -)
  echo "-all${c:+,$c}"
}

# ul_spawn HOST LOG RW_DIRS CAPS [--user USER:GROUP] -- PROGRAM ARGS...:
# PROGRAM in namespace HOST (netns_spawn: logged, stopped at cleanup) with
# bounding set CAPS, no inheritable capabilities and no_new_privs, as USER
# when given.  With RW_DIRS (colon-separated; "" for none) it runs in a
# mount namespace where / is read-only except those directories, and
# first proves that by failing to create UL_RO_PROBE (exit 99 if it could).
# Sets UL_PID.
ul_spawn() {
  local h=$1 log=$2 rw=$3 caps=$4 who=()
  shift 4
  if [ "$1" = --user ]; then
    who=(--reuid="${2%%:*}" --regid="${2##*:}" --clear-groups)
    shift 2
  fi
  [ "$1" != -- ] || shift
  local priv=(setpriv "${who[@]}" --bounding-set="$caps" --inh-caps=-all --no-new-privs "$@")
  if [ -z "$rw" ]; then
    netns_spawn "$h" "$log" "${priv[@]}"
  else
    netns_spawn "$h" "$log" unshare --mount --propagation private sh -c '
      rw=$1 probe=$2; shift 2
      IFS=:; for d in $rw; do mount --bind "$d" "$d" || exit 98; done; unset IFS
      mount -o remount,bind,ro / || exit 98
      touch "$probe" 2>/dev/null && exit 99
      exec "$@"' sh "$rw" "${UL_RO_PROBE:-/.ipop-ro-probe}" "${priv[@]}"
  fi
  UL_PID=$NETNS_LAST_PID
}

# ul_has_caps PID CAPEFF USER: PID runs as USER with exactly CAPEFF
# effective (hex, as in /proc/PID/status), read from outside the process.
ul_has_caps() {
  grep -q "^Uid:[[:space:]]*$(id -u "$3")[[:space:]]" "/proc/$1/status" &&
    grep -q "^CapEff:[[:space:]]*$2$" "/proc/$1/status"
}

ul_gone() { ! kill -0 "$1" 2>/dev/null; }
