#!/usr/bin/env bash
# Configures and builds one build type into build/<type>. Usage: tools/build.sh [Release|RelWithDebInfo|Debug|Asan]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
type=${1:-Release}
dir="$root/build/$(echo "$type" | tr 'A-Z' 'a-z')"
cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE="$type" >/dev/null
cmake --build "$dir" -j"$(nproc)"
