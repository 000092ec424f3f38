#!/usr/bin/env bash
# Builds the Debian package ringcast_<version>_<arch>.deb from a Release build.
#
# Usage: tools/package.sh [--build-dir DIR] [--out DIR] [--no-build]
#   --build-dir DIR  the CMake build to package (default build/release). Unless --no-build:
#                    tools/setup.sh --server first, then DIR configured and its two binaries
#                    built. Must be Release or RelWithDebInfo: a sanitizer build links its
#                    runtime and is no server to ship.
#   --out DIR        where the .deb goes (default: the build dir)
#   --no-build       package what DIR already holds (the test does this)
# Prints the path of the .deb on the last line of stdout.
#
# What goes in (checked by tests/integration/test_package.py):
#   /usr/bin/ringcast, ringcast-load (stripped), ringcast-capacity (+ its figures in
#   /usr/share/ringcast), /lib/systemd/system/ringcast.service, /etc/ringcast/ringcast.toml
#   (a conffile, from docs/deploy/ringcast.toml), the docs in /usr/share/doc/ringcast, and
#   the maintainer scripts of tools/deb/ (postinst creates the ringcast system user).
# Depends: what dpkg-shlibdeps finds the binaries linked against (liburing2, libssl3,
# libhiredis0.14, libmimalloc2.0, libtomlplusplus3, libc6, libstdc++6, libgcc-s1), plus
# passwd (useradd in postinst) and python3 (ringcast-capacity).
# dpkg-deb --root-owner-group makes every file root's without fakeroot.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/release"
out=""
do_build=1
while (($#)); do
  case $1 in
    --build-dir) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-build) do_build=0; shift ;;
    *) echo "package.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
build=$(realpath -m "$build")
out=$(realpath -m "${out:-$build}")

for tool in dpkg-deb dpkg-shlibdeps strip; do
  command -v "$tool" >/dev/null || { echo "package.sh: $tool is missing (tools/setup.sh)" >&2; exit 1; }
done

if ((do_build)); then
  "$root/tools/setup.sh" --server >&2   # what building needs (dpkg-dev comes with build-essential)
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j"${RINGCAST_JOBS:-$(nproc)}" --target ringcast ringcast-load >&2
fi

cache_value() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
[[ -f $build/CMakeCache.txt ]] || { echo "package.sh: $build is not a CMake build dir" >&2; exit 1; }
build_type=$(cache_value CMAKE_BUILD_TYPE)
if [[ $build_type != Release && $build_type != RelWithDebInfo ]]; then
  echo "package.sh: $build is a $build_type build; package a Release build" >&2
  exit 1
fi
# The version of project() in CMakeLists.txt (one place to change it).
version=$(sed -n 's/^project(ringcast VERSION \([0-9][0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
[[ -n $version ]] || { echo "package.sh: no VERSION in CMakeLists.txt's project()" >&2; exit 1; }
if [[ $(cache_value CMAKE_HOME_DIRECTORY) != "$root" ]]; then
  echo "package.sh: $build was configured from $(cache_value CMAKE_HOME_DIRECTORY), not $root" >&2
  exit 1
fi
arch=$(dpkg --print-architecture)
server_bin="$build/ringcast"
load_bin="$build/tools/load/ringcast-load"
for f in "$server_bin" "$load_bin"; do
  [[ -x $f ]] || { echo "package.sh: $f is not built" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage="$work/ringcast"
doc="$stage/usr/share/doc/ringcast"
install -d "$stage/DEBIAN" "$stage/usr/bin" "$stage/usr/share/ringcast" "$stage/etc/ringcast" \
  "$stage/lib/systemd/system" "$doc/docs/deploy" "$doc/docs/perf"

strip --strip-unneeded -o "$stage/usr/bin/ringcast" "$server_bin"
strip --strip-unneeded -o "$stage/usr/bin/ringcast-load" "$load_bin"
chmod 0755 "$stage/usr/bin/ringcast" "$stage/usr/bin/ringcast-load"
install -m 0755 "$root/tools/ringcast-capacity" "$stage/usr/bin/ringcast-capacity"
install -m 0644 "$root/docs/perf/results-small.json" "$stage/usr/share/ringcast/"
install -m 0644 "$root/docs/deploy/ringcast.service" "$stage/lib/systemd/system/"
install -m 0644 "$root/docs/deploy/ringcast.toml" "$stage/etc/ringcast/"

# The docs keep the repository's layout so README's relative links resolve.
install -m 0644 "$root/README.md" "$doc/"
install -m 0644 "$root"/docs/*.md "$doc/docs/"
install -m 0644 "$root"/docs/perf/*.md "$doc/docs/perf/"
for f in "$root"/docs/deploy/*; do
  if [[ -f $f ]]; then install -m 0644 "$f" "$doc/docs/deploy/"; fi
done
install -m 0644 "$root/tools/deb/copyright" "$doc/copyright"
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
{
  echo "ringcast ($version) unstable; urgency=medium"
  echo
  echo "  * Built from commit $commit."
  echo
  echo " -- ${RINGCAST_MAINTAINER:-ringcast developers <ringcast@localhost>}  $(date -R -u -d @"${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)}")"
} | gzip -9n > "$doc/changelog.Debian.gz"
chmod 0644 "$doc/changelog.Debian.gz"

for s in postinst prerm postrm; do install -m 0755 "$root/tools/deb/$s" "$stage/DEBIAN/"; done
echo /etc/ringcast/ringcast.toml > "$stage/DEBIAN/conffiles"

# dpkg-shlibdeps wants a debian/control beside it; it reads nothing from it that matters here.
mkdir -p "$work/src/debian"
printf 'Source: ringcast\n\nPackage: ringcast\nArchitecture: any\n' > "$work/src/debian/control"
shlibs=$(cd "$work/src" && dpkg-shlibdeps -O "$stage/usr/bin/ringcast" "$stage/usr/bin/ringcast-load")
shlibs=${shlibs#shlibs:Depends=}
[[ -n $shlibs ]] || { echo "package.sh: dpkg-shlibdeps found no libraries" >&2; exit 1; }

installed_kb=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<EOF
Package: ringcast
Version: $version
Architecture: $arch
Maintainer: ${RINGCAST_MAINTAINER:-ringcast developers <ringcast@localhost>}
Installed-Size: $installed_kb
Depends: $shlibs, passwd, python3
Section: net
Priority: optional
Description: io_uring Server-Sent Events server
 ringcast serves Server-Sent Events (SSE) streams over HTTP/1.1 and HTTPS from
 thread-per-core shards on io_uring, with one serialization per published event
 however many streams receive it, Last-Event-ID resumes from a bounded history,
 JWT access control and scale-out over Redis Streams.
 .
 Also included: ringcast-load (the load generator) and ringcast-capacity (the
 capacity planner). The systemd unit is installed but not enabled: edit
 /etc/ringcast/ringcast.toml, then systemctl enable --now ringcast.
EOF
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
   xargs -0 md5sum > DEBIAN/md5sums)
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"

mkdir -p "$out"
deb="$out/ringcast_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >&2
echo "$deb"
