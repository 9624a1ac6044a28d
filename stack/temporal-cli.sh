#!/usr/bin/env bash
# `npm run temporal -- <args>`: the temporal CLI the stack built (stack/services/temporal.sh), pointed
# at the app's server and namespace: TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE as the processes read
# them (config/index.ts), else the local stack's. Flags given in <args> win.
set -euo pipefail
STACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=stack.env
source "$STACK_DIR/stack.env"

bin="$(bash "$STACK_DIR/services/temporal.sh" bin)"
if [ ! -x "$bin" ]; then
  printf '[temporal] the temporal CLI is not built yet (%s): npm run stack:up builds it\n' "$bin" >&2
  exit 1
fi
# The CLI reads these itself.
export TEMPORAL_ADDRESS="${TEMPORAL_ADDRESS:-127.0.0.1:$TEMPORAL_PORT}"
export TEMPORAL_NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
exec "$bin" "$@"
