#!/usr/bin/env bash
# Install every build, test, benchmark and demo dependency from Debian 12's
# packages.  Idempotent, non-interactive.  It calls apt-get, so it needs
# root: run as root, or as a user with sudo (it runs itself through sudo).
set -euo pipefail
IPOP_SCRIPT=install-deps.sh
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/lib/common.sh"
as_root "$@"

packages=(
  # build
  build-essential cmake pkg-config git
  libnice-dev libglib2.0-dev libssl-dev libxml2-dev libjansson-dev libuv1-dev
  libcap-dev libcmocka-dev
  # the controller's HTTP listener (/metrics, the overlay map)
  libmicrohttpd-dev
  # fuzzing and sanitizers (clang's libFuzzer and runtimes)
  clang libclang-rt-14-dev
  # network tests, demo, benchmarks
  iproute2 iputils-ping iperf3 iptables conntrack procps psmisc
  tinc wireguard-go wireguard-tools fastd nebula tcpdump
  # real servers for integration tests and the demo
  ejabberd prosody lua-sec coturn
  # a real DNS server for the SRV, federation and failover tests
  dnsmasq-base
  # hostile-peer tests drive a real XMPP client library; control-socket
  # tests seal datagrams (AES-GCM) like a second client would
  python3 python3-slixmpp python3-cryptography
  # tools the tests use
  openssl valgrind systemd jq groff-base curl
  # metrics and the overlay map end to end: a real Prometheus (promtool
  # too) and a headless browser
  prometheus chromium
  # the Debian package: dpkg-shlibdeps (dpkg-dev) and its checker
  dpkg-dev lintian
  # privilege tests: an execve injected into tincan, file capabilities
  gdb libcap2-bin
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps.sh: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# --no-install-recommends: wireguard-tools would otherwise pull a kernel image.
apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Package installs must not leave servers running on the host (no systemd as
# PID 1 here, but be safe on machines that have it).
for svc in ejabberd prosody coturn prometheus; do
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now "$svc" >/dev/null 2>&1 || true
  fi
done
echo "install-deps.sh: done"
