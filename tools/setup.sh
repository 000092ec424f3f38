#!/usr/bin/env bash
# Installs what ringcast needs to build and test on Debian 12, and nothing when all is there.
# Safe to run again: it asks dpkg first and only calls apt-get for what is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config g++
  liburing-dev libssl-dev libmimalloc-dev
  libgtest-dev libbenchmark-dev
  curl python3 procps iproute2
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
