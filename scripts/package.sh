#!/usr/bin/env bash
# package.sh - build the Debian package ipop_<version>_<arch>.deb from this
# source tree: a release build (-Werror, no tests, full RELRO) installed by
# `cmake --install --strip` into a staging tree with the Debian prefix, the
# man pages and changelog compressed, the copyright file, Depends computed
# by dpkg-shlibdeps, the maintainer scripts of dist/debian/, then dpkg-deb
# (files owned by root:root without fakeroot) and lintian.
#
# usage: scripts/package.sh [--build-dir DIR] [--out DIR] [--no-lintian]
#
#   --build-dir DIR  build tree of the package (default build-deb/)
#   --out DIR        where the .deb goes (default: the top of the source tree)
#   --no-lintian     do not run lintian
#
# Needs dpkg-dev and lintian (scripts/install-deps.sh installs them); it
# needs no root.  Exit 0: the package is built and lintian reports no
# error (its warnings are printed); 1 otherwise.  It prints the package's
# path last.  What is in the package and what its maintainer scripts do:
# docs/deployment.md ("The Debian package").
set -euo pipefail
IPOP_SCRIPT=package.sh
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib/common.sh
. "$top/scripts/lib/common.sh"

bdir=$top/build-deb out=$top lint=1
while [ $# -gt 0 ]; do
  case $1 in
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    --build-dir) need_arg "$@"; bdir=$(realpath -m "$2"); shift ;;
    --out) need_arg "$@"; out=$(realpath -m "$2"); shift ;;
    --no-lintian) lint=0 ;;
    *) usage_die "unknown argument $1" ;;
  esac
  shift
done
need_cmd cmake cmake
need_cmd dpkg-deb dpkg
need_cmd dpkg-shlibdeps dpkg-dev
need_cmd gzip gzip
[ "$lint" = 0 ] || need_cmd lintian lintian
umask 022

version=$(sed -n 's/^project(ipop VERSION \([0-9][0-9.]*\).*/\1/p' "$top/CMakeLists.txt")
[ -n "$version" ] || die "no version in $top/CMakeLists.txt (project(ipop VERSION x.y.z))"
arch=$(dpkg --print-architecture)
deb=$out/ipop_${version}_${arch}.deb
# Reproducible: every timestamp (changelog date, gzip, dpkg-deb's file
# times) is the last commit's, or now outside git.
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
  SOURCE_DATE_EPOCH=$(git -C "$top" log -1 --format=%ct)
  commit=$(git -C "$top" log -1 --format=%h)
  gitname=$(git -C "$top" log -1 --format=%an) gitmail=$(git -C "$top" log -1 --format=%ae)
else
  SOURCE_DATE_EPOCH=$(date +%s) commit=unknown gitname="" gitmail=""
fi
export SOURCE_DATE_EPOCH
maintainer="${DEBFULLNAME:-${gitname:-ipop developers}} <${DEBEMAIL:-${gitmail:-ipop@example.org}}>"

info "building ipop $version ($commit) in $bdir"
mkdir -p "$bdir" "$out"
if ! { cmake -S "$top" -B "$bdir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIPOP_WERROR=ON \
         -DIPOP_TESTS=OFF -DIPOP_SANITIZE=OFF -DCMAKE_INSTALL_PREFIX=/usr \
         -DCMAKE_EXE_LINKER_FLAGS="-Wl,-z,relro -Wl,-z,now" &&
       cmake --build "$bdir" -j "$(nproc 2>/dev/null || echo 2)"; } >"$bdir/package-build.log" 2>&1
then
  tail -n 40 "$bdir/package-build.log" >&2
  die "build failed (log: $bdir/package-build.log)"
fi

stage=$bdir/deb-root
rm -rf "$stage"
DESTDIR=$stage cmake --install "$bdir" >"$bdir/package-install.log" 2>&1 ||
  { cat "$bdir/package-install.log" >&2; die "cmake --install failed"; }
bins=(usr/sbin/ipop-tincan usr/sbin/ipop-controller usr/bin/ipopctl)
for b in "${bins[@]}"; do   # as dh_strip does
  [ -x "$stage/$b" ] || die "$b missing from the install"
  strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/$b"
done
doc=$stage/usr/share/doc/ipop
find "$stage/usr/share/man" -type f -name '*.[0-9]' -exec gzip -9n {} +
years=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y)
first=$(git -C "$top" log --reverse --format=%cd --date=format:%Y 2>/dev/null | head -n 1 || true)
[ -z "$first" ] || [ "$first" = "$years" ] || years=$first-$years
sed "s|@YEARS@|$years|" "$top/dist/debian/copyright" >"$doc/copyright"
chmod 644 "$doc/copyright"
{
  printf 'ipop (%s) unstable; urgency=medium\n\n' "$version"
  printf '  * Built by scripts/package.sh from commit %s.\n\n' "$commit"
  printf ' -- %s  %s\n' "$maintainer" "$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$doc/changelog.gz"
chmod 644 "$doc/changelog.gz"

# Depends: the shared libraries the three programs link, as packages.
shl=$bdir/deb-shlibs
mkdir -p "$shl/debian"
printf 'Source: ipop\n\nPackage: ipop\nArchitecture: any\n' >"$shl/debian/control"
depends=$(cd "$shl" && dpkg-shlibdeps -O "${bins[@]/#/-e$stage/}" 2>"$bdir/shlibdeps.log" |
          sed -n 's/^shlibs:Depends=//p') ||
  { cat "$bdir/shlibdeps.log" >&2; die "dpkg-shlibdeps failed"; }
[ -n "$depends" ] || die "dpkg-shlibdeps found no dependencies (log: $bdir/shlibdeps.log)"

mkdir -m 755 "$stage/DEBIAN"
for s in postinst prerm postrm; do
  install -m 755 "$top/dist/debian/$s" "$stage/DEBIAN/$s"
done
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@SIZE@|$size|" \
    -e "s|@MAINTAINER@|$maintainer|" -e "s|@DEPENDS@|$depends|" \
    "$top/dist/debian/control.in" >"$stage/DEBIAN/control"
(cd "$stage" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | LC_ALL=C sort -z |
   xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
chmod 644 "$stage/DEBIAN/control" "$stage/DEBIAN/md5sums"

rm -f "$deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
info "built $(basename "$deb"): Depends: $depends, adduser"

status=0
if [ "$lint" = 1 ]; then
  info "lintian $(lintian --version | awk '{print $2}') ..."
  # not as root ("not recommended"): as nobody when we are root
  asuser=()
  [ "$(id -u)" != 0 ] || asuser=(setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=/tmp)
  "${asuser[@]}" lintian --fail-on error --display-info "$deb" >"$bdir/lintian.log" 2>&1 || status=1
  sed 's/^/  /' "$bdir/lintian.log"
  if [ "$status" = 0 ]; then
    info "lintian: no errors ($(grep -c '^W:' "$bdir/lintian.log" || true) warnings, $(grep -c '^I:' "$bdir/lintian.log" || true) infos)"
  else
    info "lintian reported errors (above)"
  fi
fi
echo "$deb"
exit $status
