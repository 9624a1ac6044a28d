#!/usr/bin/env bash
# Debian's chromium, for the Web UI browser test (no browser is ever downloaded by npm).
# Usage: chromium.sh up|status
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

installed() { [ -x /usr/bin/chromium ]; }

case "${1:-}" in
  up)
    installed && exit 0
    [ "$(id -u)" = 0 ] || die "chromium is not installed; run as root or: sudo apt-get install -y chromium"
    log "installing Debian's chromium"
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; } >"$LOG_DIR/chromium-install.log" 2>&1 \
      || die "apt-get install chromium failed" "$LOG_DIR/chromium-install.log"
    ;;
  status) installed ;;
  *) die "usage: $0 up|status" ;;
esac
