#!/usr/bin/env bash
# One command: install what is missing, build, and run every test.
# The Release build runs the whole suite; the Asan (ASan+UBSan) build runs it again.
# Set RINGCAST_SKIP_ASAN=1 to run the Release pass only.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/setup.sh"
"$root/tools/build.sh" Release
(cd "$root/build/release" && ctest --output-on-failure -j2)
if [[ ${RINGCAST_SKIP_ASAN:-0} != 1 ]]; then
  "$root/tools/build.sh" Asan
  (cd "$root/build/asan" && ctest --output-on-failure -j2)
fi
