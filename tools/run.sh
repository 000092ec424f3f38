#!/usr/bin/env bash
# One command: install what is missing, build, and start ringcast on 0.0.0.0:8080.
# Extra arguments are passed to the server, e.g. tools/run.sh --shards 1 --listen 127.0.0.1:9000
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/setup.sh" --server
"$root/tools/build.sh" Release
has_listen=0
for a in "$@"; do [[ $a == --listen* ]] && has_listen=1; done
if ((has_listen)); then
  exec "$root/build/release/ringcast" "$@"
fi
exec "$root/build/release/ringcast" --listen 0.0.0.0:8080 "$@"
