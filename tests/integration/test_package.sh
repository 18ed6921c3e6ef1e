#!/usr/bin/env bash
# The Debian package on this machine, as a sysadmin installs it:
#   - scripts/package.sh builds ipop_<version>_<arch>.deb; lintian finds no
#     error;
#   - `apt-get install ./ipop_*.deb` resolves from installed packages only
#     (no package sources configured); every file has the owner and mode the package says,
#     dpkg --verify is clean; postinst made the user ipop and the
#     directories of tmpfiles.d/ipop.conf, started and enabled nothing; a
#     reinstall (the upgrade path) keeps them;
#   - a config from scripts/new-node-config.sh (Tincan.User ipop), then both
#     daemons from their units' ExecStart= under the units' limits
#     (unit_limits.sh, as test_install_units does): tincan ends as ipop with
#     CAP_NET_ADMIN only, the controller as ipop with none, read-only
#     systems but their writable paths; the installed ipopctl reaches both
#     with no -k/-s, and the controller makes its overlay's TAP;
#   - `apt-get remove` keeps configuration and state; `apt-get purge`
#     leaves no file, directory, enablement link or drop-in behind; the user
#     ipop stays, as Debian keeps system users.
# The test changes the machine's packages.  It skips (77) when ipop is
# installed already or one of its paths exists, so that nobody's install is
# replaced or purged; its cleanup purges the package and removes what it
# made (the user too, if it did not exist) whatever happens, so it can run
# again.  The sanitizer build skips it: the package is a release build.
set -uo pipefail
: "${IPOP_SRC_DIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${IPOP_BUILD_DIR:=$IPOP_SRC_DIR/build}"
skip() { echo "skip: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (it installs a package)"
for c in apt-get dpkg-deb dpkg-shlibdeps lintian setpriv; do
  command -v "$c" >/dev/null || skip "$c missing (scripts/install-deps.sh)"
done
! grep -q '^IPOP_SANITIZE:BOOL=ON' "$IPOP_BUILD_DIR/CMakeCache.txt" 2>/dev/null ||
  skip "the package is a release build: tested with the normal build"
# pkg_present: dpkg knows ipop in any state but "not-installed" (installed,
# or removed with its configuration left).
pkg_present() {
  local st
  st=$(dpkg-query -W -f='${Status}' ipop 2>/dev/null) && [[ $st != *not-installed* ]]
}
! pkg_present || skip "package ipop is on this machine: not replacing it"
DIRS=(/etc/ipop /var/lib/ipop /var/lib/ipop-controller /var/log/ipop /var/log/ipop-controller)
for p in "${DIRS[@]}"; do [ ! -e "$p" ] || skip "$p exists: purging the package would delete it"; done
. "$IPOP_SRC_DIR/tests/lib/netns.sh"
. "$IPOP_SRC_DIR/tests/integration/unit_limits.sh"
netns_can_run 2>/dev/null && [ -c /dev/net/tun ] || skip "needs network namespaces and /dev/net/tun"

fails=0
check() {
  local what=$1; shift
  if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; fails=$((fails + 1)); fi
}
export DEBIAN_FRONTEND=noninteractive
UNITS=/usr/lib/systemd/system
WANTS=/etc/systemd/system/multi-user.target.wants
PROBE=/var/lib/.ipop-package-ro-probe
user_before=$(getent passwd ipop || true)

netns_init
W=$NETNS_TMPDIR/pkg
mkdir -p "$W"
chmod 755 "$NETNS_TMPDIR" "$W"   # apt reads the .deb as user _apt
# No package sources at all: apt resolves from the installed packages and
# cannot download anything.  (--no-download refuses a local .deb in apt 2.6.)
mkdir -p "$W/no-sources"
APT=(apt-get -y -q -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$W/no-sources"
     -o DPkg::Lock::Timeout=120)

# Whatever happens: no package, nothing it or we made (after the daemons
# are stopped: netns_cleanup runs this after killing spawned processes).
pkg_cleanup() {
  if pkg_present; then
    "${APT[@]}" purge ipop >"$W/cleanup-purge.log" 2>&1 || dpkg --purge --force-all ipop
  fi
  rm -rf "${DIRS[@]}" "$PROBE" "$WANTS/ipop-tincan.service" \
    /etc/systemd/system/ipop-controller.service.d
  if [ -z "$user_before" ] && getent passwd ipop >/dev/null; then
    userdel ipop 2>/dev/null; getent group ipop >/dev/null && groupdel ipop 2>/dev/null
  fi
  return 0
}
netns_defer pkg_cleanup

# ---- build ------------------------------------------------------------------
t0=$(date +%s)
rc=0
"$IPOP_SRC_DIR/scripts/package.sh" --build-dir "$IPOP_BUILD_DIR/package" --out "$W" \
  >"$W/package.log" 2>&1 || rc=$?
sed -n 's/^  \([EWI]: \)/# lintian \1/p' "$W/package.log"
check "scripts/package.sh builds the package, lintian: no errors (exit $rc, $(( $(date +%s) - t0 )) s)" \
  test "$rc" = 0
version=$(sed -n 's/^project(ipop VERSION \([0-9.]*\).*/\1/p' "$IPOP_SRC_DIR/CMakeLists.txt")
deb=$W/ipop_${version}_$(dpkg --print-architecture).deb
[ -s "$deb" ] || { cat "$W/package.log"; echo "FAIL - no $deb"; exit 1; }
check "named ipop_<version>_<arch>.deb" test "$(tail -n 1 "$W/package.log")" = "$deb"
dpkg-deb -c "$deb" | awk '{print $1, $2, $6}' | sed 's| \./| /|; s|/$||' >"$W/contents"
# Files the package would own must not exist yet (somebody's `cmake --install`).
while read -r perms _ path; do
  [ "${perms:0:1}" = - ] && [ -e "$path" ] && skip "$path exists: installing would overwrite it"
done <"$W/contents"
check "Depends from dpkg-shlibdeps (libnice, libssl, libuv, libmicrohttpd, jansson, libxml2, glib, libcap)" \
  sh -c "dpkg-deb -f '$deb' Depends | grep -q 'libnice10.*libuv1' &&
         dpkg-deb -f '$deb' Depends | grep -q 'libssl3' &&
         dpkg-deb -f '$deb' Depends | grep -q 'libmicrohttpd12'"

# ---- install --------------------------------------------------------------------
rc=0
(cd "$W" && "${APT[@]}" install ./"$(basename "$deb")") >"$W/install.log" 2>&1 || rc=$?
sed 's/^/# apt: /' "$W/install.log" | grep -v '^# apt: \((Reading\|Reading\|Building\)' | tail -n 12
check "apt-get install ./ipop_*.deb without package sources (exit $rc)" test "$rc" = 0
only_local() { # apt fetched nothing but the file, installed ipop alone
  [ -z "$(grep '^Get:' "$W/install.log" | grep -vF " $deb ")" ] &&
    grep -q '^0 upgraded, 1 newly installed, 0 to remove' "$W/install.log"
}
check "... its dependencies resolved from installed packages (nothing else fetched)" only_local
check "dpkg: installed, version $version" \
  test "$(dpkg-query -W -f='${Status} ${Version}' ipop)" = "install ok installed $version"
check "dpkg --verify: every file as packaged" test -z "$(dpkg --verify ipop 2>&1)"
bad=""
while read -r perms owner path; do
  [ "${perms:0:1}" != l ] && [ -n "$path" ] || continue   # links; "./" itself
  have="$(stat -c '%A %U/%G' "$path" 2>/dev/null)"
  [ "$have" = "$perms $owner" ] || bad="$bad $path($have, not $perms $owner)"
done <"$W/contents"
check "every packaged path has its owner and mode ($(wc -l <"$W/contents") paths)${bad:+:$bad}" \
  test -z "$bad"
for f in /usr/sbin/ipop-tincan /usr/sbin/ipop-controller /usr/bin/ipopctl \
         $UNITS/ipop-tincan.service $UNITS/ipop-controller.service \
         /usr/lib/sysusers.d/ipop.conf /usr/lib/tmpfiles.d/ipop.conf \
         /usr/share/man/man8/ipopctl.8.gz /usr/share/man/man8/ipop-tincan.8.gz \
         /usr/share/man/man8/ipop-controller.8.gz /usr/share/doc/ipop/config.json.sample \
         /usr/share/doc/ipop/deployment.md /usr/share/doc/ipop/copyright \
         /usr/share/doc/ipop/changelog.gz; do
  check "installed $f" test -s "$f"
done
check "programs root:root 0755" \
  test "$(stat -c '%U:%G %a' /usr/sbin/ipop-tincan /usr/sbin/ipop-controller /usr/bin/ipopctl |
          sort -u)" = "root:root 755"
pw=$(getent passwd ipop)
system_user() { # a system uid, the home and shell of sysusers.d/ipop.conf, its group
  [ -n "$pw" ] && [ "$(cut -d: -f3 <<<"$pw")" -lt 1000 ] &&
    [ "$(cut -d: -f6,7 <<<"$pw")" = /var/lib/ipop-controller:/usr/sbin/nologin ] &&
    getent group ipop >/dev/null
}
check "postinst made the system user ipop and its group ($pw)" system_user
dirmodes() { stat -c '%n %a %U:%G' "${DIRS[@]}" 2>&1 | tr '\n' ';'; }
want="/etc/ipop 755 root:root;/var/lib/ipop 700 root:root;/var/lib/ipop-controller 750 ipop:ipop;/var/log/ipop 750 ipop:ipop;/var/log/ipop-controller 755 ipop:ipop;"
check "postinst made the directories of tmpfiles.d/ipop.conf" test "$(dirmodes)" = "$want"
check "postinst says nothing is started until configured" \
  grep -q "ipop: not started; write /etc/ipop/config.json" "$W/install.log"
running() { # a process running an installed daemon
  local p
  for p in /proc/[0-9]*; do
    case $(readlink "$p/exe" 2>/dev/null) in /usr/sbin/ipop-tincan|/usr/sbin/ipop-controller) return 0 ;; esac
  done
  return 1
}
check "nothing started" eval '! running'
check "no unit enabled" sh -c "! ls /etc/systemd/system/*.wants/ipop-* 2>/dev/null | grep -q ."
if command -v systemd-analyze >/dev/null; then
  check "systemd-analyze verify: the installed units" \
    test -z "$(systemd-analyze --man=no verify $UNITS/ipop-tincan.service $UNITS/ipop-controller.service 2>&1)"
fi
check "the installed ipop-tincan names itself in --check-config" \
  grep -q '^ipop-tincan: /usr/share/doc/ipop/config.json.sample: configuration is valid' \
  <(/usr/sbin/ipop-tincan --check-config -c /usr/share/doc/ipop/config.json.sample)
uid=$(id -u ipop)
rc=0
(cd "$W" && "${APT[@]}" install --reinstall ./"$(basename "$deb")") >"$W/reinstall.log" 2>&1 || rc=$?
check "reinstall (the upgrade path of postinst): exit $rc, user and directories kept" \
  test "$rc:$(id -u ipop):$(dirmodes)" = "0:$uid:$want"

# ---- run it, as a sysadmin would, but under the units' limits --------------------
netns_host a
install -m 600 -o ipop /dev/null /etc/ipop/xmpp.password
echo secret >/etc/ipop/xmpp.password
rc=0
"$IPOP_SRC_DIR/scripts/new-node-config.sh" --mode social --jid pkg@xmpp.invalid \
  --password-file /etc/ipop/xmpp.password --subnet 10.254.9.0/24 \
  --out /etc/ipop/config.json --check >"$W/new-node-config.log" 2>&1 || rc=$?
check "new-node-config.sh --check with the installed daemons (exit $rc)" test "$rc" = 0
check "... Tincan.User and ControllerUser are ipop" \
  test "$(jq -r '.Tincan.User + " " + .Tincan.ControllerUser' /etc/ipop/config.json)" = "ipop ipop"
check "... control key 0600 for ipop" test "$(stat -c '%a %U' /etc/ipop/control.key)" = "600 ipop"
exec_of() { sed -n 's/^ExecStart=//p' "$UNITS/$1.service"; }
rw_of() { # the unit's writable paths: ReadWritePaths=, StateDirectory=, LogsDirectory=
  { sed -n 's/^ReadWritePaths=-\{0,1\}//p' "$UNITS/$1.service"
    sed -n 's|^StateDirectory=|/var/lib/|p; s|^LogsDirectory=|/var/log/|p' "$UNITS/$1.service"
  } | paste -sd: -
}
user_of() { echo "$(sed -n 's/^User=//p' "$UNITS/$1.service"):$(sed -n 's/^Group=//p' "$UNITS/$1.service")"; }
read -r -a tc_cmd <<<"$(exec_of ipop-tincan)"
read -r -a ct_cmd <<<"$(exec_of ipop-controller)"
check "ipop-tincan.service runs /usr/sbin/ipop-tincan --config /etc/ipop/config.json" \
  test "${tc_cmd[*]}" = "/usr/sbin/ipop-tincan --config /etc/ipop/config.json"
UL_RO_PROBE=$PROBE ul_spawn a "$W/tincan.log" "$(rw_of ipop-tincan)" \
  "$(ul_unit_caps $UNITS/ipop-tincan.service)" -- "${tc_cmd[@]}"
TC=$UL_PID
ctl() { netns_exec a /usr/bin/ipopctl "$@"; }   # config and key from /etc/ipop/config.json
check "installed tincan answers the installed ipopctl (no -k, no -s)" wait_until 20 ctl -t echo up
check "... runs as ipop with CAP_NET_ADMIN only" ul_has_caps "$TC" 0000000000001000 ipop
check "... read-only system (the probe was refused)" test ! -e "$PROBE"
check "... its identity in its state directory, 0600" \
  test "$(stat -c '%a %U' /var/lib/ipop/tincan-identity.pem)" = "600 root"
UL_RO_PROBE=$PROBE ul_spawn a "$W/controller.log" "$(rw_of ipop-controller)" \
  "$(ul_unit_caps $UNITS/ipop-controller.service)" --user "$(user_of ipop-controller)" -- "${ct_cmd[@]}"
CT=$UL_PID
check "installed controller answers: ipopctl wait overlay (its overlay made in tincan)" \
  ctl wait overlay --deadline 30
check "... runs as ipop with no capabilities" ul_has_caps "$CT" 0000000000000000 ipop
check "... the TAP exists" ip -n "$(netns_ns a)" -4 addr show ipop0
check "... node id in its state directory, owned by ipop" \
  test "$(stat -c %U /var/lib/ipop-controller/node_id)" = ipop
tincan_up() { ctl -j status | jq -e '.tincan == "up"' >/dev/null; }
check "ipopctl status (no -k, no -s): tincan up" wait_until 10 tincan_up
# The default Controller.Http.Listen (127.0.0.1:9587), the page built in.
metrics_up() { netns_exec a curl -s --max-time 5 http://127.0.0.1:9587/metrics | grep -q '^ipop_tincan_up 1$'; }
check "installed controller serves /metrics under the unit's limits (ipop_tincan_up 1)" \
  wait_until 20 metrics_up
check "... and the overlay map page" \
  test "$(netns_exec a curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9587/)" = 200
kill -TERM "$CT" "$TC"
check "both exit on SIGTERM" wait_until 10 eval "ul_gone $CT && ul_gone $TC"
check "... the TAP is gone" sh -c "! ip -n $(netns_ns a) link show ipop0 2>/dev/null"

# ---- remove, purge ----------------------------------------------------------------
# An administrator's enablement and drop-in, as systemctl enable/edit make them.
mkdir -p "$WANTS" /etc/systemd/system/ipop-controller.service.d
ln -sf "$UNITS/ipop-tincan.service" "$WANTS/ipop-tincan.service"
printf '[Service]\nNice=5\n' >/etc/systemd/system/ipop-controller.service.d/override.conf
rc=0
"${APT[@]}" remove ipop >"$W/remove.log" 2>&1 || rc=$?
check "apt-get remove (exit $rc)" test "$rc" = 0
check "... programs gone" test ! -e /usr/sbin/ipop-tincan -a ! -e /usr/bin/ipopctl
check "... configuration and state kept" \
  test -s /etc/ipop/config.json -a -s /etc/ipop/control.key -a -s /var/lib/ipop-controller/node_id
rc=0
"${APT[@]}" purge ipop >"$W/purge.log" 2>&1 || rc=$?
check "apt-get purge (exit $rc)" test "$rc" = 0
check "dpkg: not installed (purged)" eval '! pkg_present'
left=""
while read -r perms _ path; do
  [ "${perms:0:1}" = d ] || { [ ! -e "$path" ] && [ ! -L "$path" ]; } || left="$left $path"
done <"$W/contents"
for p in "${DIRS[@]}" /usr/share/doc/ipop "$WANTS/ipop-tincan.service" \
         /etc/systemd/system/ipop-controller.service.d; do
  [ ! -e "$p" ] && [ ! -L "$p" ] || left="$left $p"
done
leftover=$(find /etc /var/lib /var/log /usr/lib/systemd /usr/lib/sysusers.d /usr/lib/tmpfiles.d \
           /usr/share/doc /usr/share/man /usr/sbin /usr/bin -name '*ipop*' 2>/dev/null | tr '\n' ' ')
check "purge leaves nothing behind${left:+:$left}${leftover:+ (found: $leftover)}" \
  test -z "$left$leftover"
check "the user ipop stays (Debian keeps system users; deluser ipop removes it)" getent passwd ipop
echo "# $fails failure(s)"
[ "$fails" -eq 0 ]
