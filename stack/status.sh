#!/usr/bin/env bash
# Prints each service's health; exits non-zero if any is down.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

down=0
report() {
  local name="$1" where="$2"
  if bash "$STACK_DIR/services/$name.sh" status >/dev/null 2>&1; then
    printf '%-10s up     %s\n' "$name" "$where"
  else
    printf '%-10s DOWN   %s\n' "$name" "$where"
    down=1
  fi
}

report postgres "127.0.0.1:$POSTGRES_PORT"
report rabbitmq "amqp://127.0.0.1:$RABBITMQ_PORT, management http://127.0.0.1:$RABBITMQ_MANAGEMENT_PORT"
report kafka "127.0.0.1:$KAFKA_PORT"
report temporal "127.0.0.1:$TEMPORAL_PORT, Web UI http://127.0.0.1:$TEMPORAL_UI_PORT"
echo "logs: $LOG_DIR"
exit "$down"
