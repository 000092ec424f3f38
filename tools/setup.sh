#!/usr/bin/env bash
# Installs what ringcast needs to build and test on Debian 12, and nothing when all is there.
# Safe to run again: it asks dpkg first and only calls apt-get for what is missing.
# Usage: tools/setup.sh            build, test and benchmark dependencies, and the real clients
#        tools/setup.sh --server   only what building and running the server needs
set -euo pipefail

packages=(
  build-essential cmake pkg-config g++
  liburing-dev libssl-dev libmimalloc-dev libhiredis-dev libtomlplusplus-dev libnghttp2-dev
  libcli11-dev
  libgtest-dev libbenchmark-dev
  curl python3 procps iproute2 openssl
  clang libclang-rt-14-dev
)
# The benchmark's peers and plots (bench/compare.py): nginx with nchan, gnuplot; redis-server
# for the scale-out tests and bench (the server itself only links hiredis).
bench_packages=(nginx-light libnginx-mod-nchan gnuplot-nox redis-server)
# The reverse-proxy test (tests/integration/test_proxy.py) puts these in front of ringcast.
bench_packages+=(haproxy)
# The monitoring tests: a real Prometheus scrapes ringcast (test_prometheus.py) and promtool
# checks and unit-tests docs/deploy/alerts.yml (the packaged service is not used: the test runs
# its own prometheus on its own port). (Packaging needs dpkg-shlibdeps: dpkg-dev, which
# build-essential brings.)
bench_packages+=(prometheus)
if [[ ${1:-} != --server ]]; then packages+=("${bench_packages[@]}"); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} > 0)); then
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  echo "setup: installing ${missing[*]}" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# The real clients of the integration tests: Node (eventsource), Chromium (playwright-core).
if [[ ${1:-} != --server ]]; then
  "$(dirname "$0")/setup-clients.sh"
fi
