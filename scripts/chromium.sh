#!/usr/bin/env bash
# Install Debian's headless-capable Chromium for the browser tests (tests/e2e). Idempotent; Playwright is
# launched with executable_path=/usr/bin/chromium, so no browser is ever downloaded.
set -euo pipefail
log() { echo "chromium: $*" >&2; }
if [ -x /usr/bin/chromium ]; then exit 0; fi
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root for: $*"; return 1; fi
}
log "installing chromium"
as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
