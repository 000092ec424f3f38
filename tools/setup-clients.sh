#!/usr/bin/env bash
# Installs what the real-client integration tests need, and nothing when all is there:
#   - node and npm (Debian's nodejs + npm) if either command is missing,
#   - libnss3-tools (certutil: the HTTPS browser test trusts its own test CA in a throwaway
#     NSS database),
#   - nghttp2-client (nghttp, h2load) and python3-h2 (Debian's /usr/bin/python3 imports it):
#     the HTTP/2 tests' clients,
#   - Debian's chromium if /usr/bin/chromium is missing (the browser tests drive it over CDP
#     with playwright-core; no browser is ever downloaded by npm),
#   - tests/clients/node_modules (npm ci from the committed package-lock.json) if it is
#     missing or package.json / package-lock.json changed since the last install.
# Quiet on success; safe to run again. Called by tools/setup.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
clients="$root/tests/clients"

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
quietly() {  # runs "$@" with its output kept aside; shows it only if the command fails
  if ! "$@" >"$log" 2>&1; then
    echo "setup-clients: '$*' failed:" >&2
    cat "$log" >&2
    exit 1
  fi
}

missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
command -v certutil >/dev/null 2>&1 || missing+=(libnss3-tools)  # trusts the TLS test CA
# The HTTP/2 tests (tests/integration/test_h2*.py): nghttp and h2load, and the h2 package.
command -v nghttp >/dev/null 2>&1 && command -v h2load >/dev/null 2>&1 || missing+=(nghttp2-client)
/usr/bin/python3 -c 'import h2' >/dev/null 2>&1 || missing+=(python3-h2)
if ((${#missing[@]} > 0)); then
  echo "setup-clients: installing ${missing[*]}" >&2
  quietly $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  quietly $sudo env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if ((node_major < 18)); then
  echo "setup-clients: node $(node --version) is too old; the test clients need node 18+" >&2
  exit 1
fi

# The stamp records what node_modules was installed from; it lives inside node_modules so
# deleting that folder also forgets the stamp.
stamp="$clients/node_modules/.ringcast-setup-stamp"
manifest_hash() {
  { cat "$clients/package.json"; cat "$clients/package-lock.json" 2>/dev/null || true; } |
    sha256sum | cut -d' ' -f1
}
if [[ -f $stamp && $(cat "$stamp") == "$(manifest_hash)" ]]; then
  exit 0
fi

if [[ -f $clients/package-lock.json ]]; then
  npm_cmd=(npm ci --no-audit --no-fund --loglevel=error)
else
  npm_cmd=(npm install --no-audit --no-fund --loglevel=error)
fi
# PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: belt and braces; playwright-core has no install script.
cd "$clients"
quietly env PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "${npm_cmd[@]}"
manifest_hash >"$stamp"
