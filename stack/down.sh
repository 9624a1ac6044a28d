#!/usr/bin/env bash
# Stops every service of the native stack (data is kept).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ "${ORDERS_STACK:-native}" = docker ]; then
  exec docker compose -f "$REPO_DIR/docker-compose.yml" down
fi

for service in jaeger temporal kafka rabbitmq postgres; do
  bash "$STACK_DIR/services/$service.sh" down
done
