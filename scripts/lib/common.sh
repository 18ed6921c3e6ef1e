# shellcheck shell=bash
# Small helpers shared by the deployment scripts (setup-*.sh,
# new-node-config.sh) and demo.sh: uniform error messages and the input
# checks every script needs, so a bad flag is reported the same way
# everywhere ("SCRIPT: --flag: what was wrong").

IPOP_SCRIPT=${IPOP_SCRIPT:-$(basename "$0")}

die() { printf '%s: %s\n' "$IPOP_SCRIPT" "$*" >&2; exit 1; }
usage_die() { printf '%s: %s (see --help)\n' "$IPOP_SCRIPT" "$*" >&2; exit 2; }
info() { printf '%s: %s\n' "$IPOP_SCRIPT" "$*"; }

# as_root "$@": this script needs root.  Run as root it returns at once (a
# root-only Debian machine has no sudo, and needs none); run by a user it
# starts itself again through sudo when sudo exists, keeping the IPOP_*
# variables, which sudo would otherwise drop; without sudo it stops.
as_root() {
  [ "$(id -u)" = 0 ] && return 0
  command -v sudo >/dev/null 2>&1 ||
    die "needs root and there is no sudo here: run it from a root shell (su -)"
  local envs=() v self
  self=${IPOP_SELF:-$(realpath "$0")}
  for v in $(compgen -e); do [[ $v != IPOP_* ]] || envs+=("$v=${!v}"); done
  echo "$IPOP_SCRIPT: not root: running it again through sudo" >&2
  exec sudo -- env "${envs[@]}" bash "$self" "$@"
}

# need_arg FLAG "$@": the flag's value must be present (and not another flag).
need_arg() {
  [ $# -ge 2 ] && [ -n "$2" ] && [[ $2 != --* ]] || usage_die "$1 needs a value"
}

# need_cmd CMD [PACKAGE]: fail early with the Debian package to install.
need_cmd() {
  command -v "$1" >/dev/null 2>&1 ||
    die "$1 not found${2:+ (Debian package $2: apt-get install $2)}"
}

# Syntax checks; each returns 0/1 and is used as `valid_x "$v" || usage_die ...`.
valid_jid() { [[ $1 =~ ^[^@/[:space:]\"\\]+@[A-Za-z0-9.-]+$ ]]; }
valid_user() { [[ $1 =~ ^[^@/[:space:]\"\\:]+$ ]]; }
valid_domain() { [[ $1 =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]]; }
valid_port() { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]; }
valid_ip4() {
  local o
  [[ $1 =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] || return 1
  for o in "${BASH_REMATCH[@]:1}"; do [ "$o" -le 255 ] || return 1; done
}
valid_cidr() {
  [[ $1 =~ ^([0-9.]+)/([0-9]{1,2})$ ]] || return 1
  local len=${BASH_REMATCH[2]}
  valid_ip4 "${BASH_REMATCH[1]}" && [ "$len" -le 32 ]
}
# host:port with a DNS name, an IPv4 address or [IPv6].
valid_hostport() {
  [[ $1 =~ ^(\[[0-9A-Fa-f:]+\]|[A-Za-z0-9.-]+):([0-9]+)$ ]] && valid_port "${BASH_REMATCH[2]}"
}
# Group / overlay names: what the controller accepts without surprises.
valid_name() { [[ $1 =~ ^[A-Za-z0-9_.-]{1,64}$ ]]; }

# secret_file PATH CONTENT [OWNER]: write a 0600 file (umask first, so the
# secret is never readable by others, not even for a moment).
secret_file() {
  local path=$1 content=$2 owner=${3:-}
  (umask 077; printf '%s\n' "$content" >"$path.tmp.$$") || die "cannot write $path"
  chmod 600 "$path.tmp.$$"
  [ -z "$owner" ] || chown "$owner" "$path.tmp.$$" || die "cannot chown $path to $owner"
  mv -f "$path.tmp.$$" "$path"
}

# random_secret: 24 random bytes as 32 URL-safe characters (passwords).
random_secret() { head -c 24 /dev/urandom | base64 | tr '+/' '-_'; }
