#!/usr/bin/env bash
# The main job on an embedded default: install dependencies, build, start
# ipop-tincan and ipop-controller with a throwaway configuration, and show
# ipopctl talking to both over the authenticated control socket.  Everything
# started here is stopped on exit or Ctrl-C.
#
#   sudo scripts/demo.sh            run the demo
#   sudo scripts/demo.sh --no-install   skip apt-get (dependencies present)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

install=1
for a in "$@"; do
  case "$a" in
    --no-install) install=0 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown option $a (see --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (it installs packages and creates TAP devices)" >&2; exit 1; }

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
[ -t 1 ] || step() { printf '\n== %s\n' "$*"; }

if [ "$install" = 1 ]; then
  step "installing dependencies (Debian packages)"
  bash scripts/install-deps.sh
fi

step "building (cmake, build/)"
cmake -S . -B build -DIPOP_WERROR=ON >/dev/null
cmake --build build -j "$(nproc)" 2>&1 | tail -n 2

dir=$(mktemp -d /tmp/ipop-demo.XXXXXX)
pids=()
stop_all() {
  step "stopping the daemons"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
  echo "stopped; removed $dir"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tport=$(free_port); cport=$(free_port)
cat >"$dir/config.json" <<JSON
{ "Control": { "Tincan": "127.0.0.1:$tport", "Controller": "127.0.0.1:$cport",
               "KeyFile": "$dir/control.key" },
  "Tincan": { "User": "", "IdentityFile": "$dir/identity.pem" },
  "Controller": { "StateDir": "$dir/state", "AllowRoot": true } }
JSON

step "starting ipop-tincan (control 127.0.0.1:$tport) and ipop-controller (127.0.0.1:$cport)"
build/tincan/ipop-tincan -c "$dir/config.json" >"$dir/tincan.log" 2>&1 & pids+=($!)
build/controller/ipop-controller -c "$dir/config.json" >"$dir/controller.log" 2>&1 & pids+=($!)
ctl() { build/ipopctl/ipopctl -k "$dir/control.key" "$@"; }
for _ in $(seq 100); do ctl -s "127.0.0.1:$tport" -T 0.2 echo up >/dev/null 2>&1 && break; sleep 0.1; done

step "ipopctl -t echo 'hello, tincan'"
ctl -s "127.0.0.1:$tport" echo "hello, tincan"
step "ipopctl status (the controller echoes tincan every 5 s)"
for _ in $(seq 60); do ctl -s "127.0.0.1:$cport" -j status | grep -q '"tincan": "up"' && break; sleep 0.1; done
ctl -s "127.0.0.1:$cport" status
step "ipopctl -t call query_link_stats '{}'"
ctl -s "127.0.0.1:$tport" -j call query_link_stats '{}' || true
step "the same echo with a wrong key is refused (exit code 4)"
umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/wrong.key"
set +e
build/ipopctl/ipopctl -k "$dir/wrong.key" -s "127.0.0.1:$tport" echo "hello"
echo "exit code: $?"
set -e
step "what tincan logged"
cat "$dir/tincan.log"
