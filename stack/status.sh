#!/usr/bin/env bash
# Prints each service's health, then how far events have flowed (projection lag, relay lag, queue
# depths, consumer lag); exits non-zero if any service is down, whatever the flow looks like.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

down=0
up=()
report() {
  local name="$1" where="$2"
  if bash "$STACK_DIR/services/$name.sh" status >/dev/null 2>&1; then
    printf '%-10s up     %s\n' "$name" "$where"
    up+=("$name")
  else
    printf '%-10s DOWN   %s\n' "$name" "$where"
    down=1
  fi
}

report postgres "127.0.0.1:$POSTGRES_PORT"
report rabbitmq "amqp://127.0.0.1:$RABBITMQ_PORT, management http://127.0.0.1:$RABBITMQ_MANAGEMENT_PORT"
report kafka "127.0.0.1:$KAFKA_PORT"
report temporal "127.0.0.1:$TEMPORAL_PORT, Web UI http://127.0.0.1:$TEMPORAL_UI_PORT"
report jaeger "OTLP 127.0.0.1:$JAEGER_OTLP_GRPC_PORT/$JAEGER_OTLP_HTTP_PORT, UI http://127.0.0.1:$JAEGER_UI_PORT"
echo "logs: $LOG_DIR"

# Only reports, bounded in time: it never changes the exit code.
if [ -x "$REPO_DIR/node_modules/.bin/tsx" ]; then
  echo
  (cd "$REPO_DIR" && timeout 60 node --import tsx stack/flow-status.ts "${up[@]}") || echo "flow: not available"
fi
exit "$down"
