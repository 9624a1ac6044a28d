#!/usr/bin/env bash
# Brings up the whole native stack and waits until every service is healthy. Idempotent: services
# that are already healthy are left alone, so a second run takes seconds.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ "${ORDERS_STACK:-native}" = docker ]; then
  exec docker compose -f "$REPO_DIR/docker-compose.yml" up -d --wait postgres rabbitmq kafka temporal jaeger
fi

for service in postgres rabbitmq kafka temporal jaeger; do
  bash "$STACK_DIR/services/$service.sh" up
done
# Not a server: the jars and launcher of the time-skipping test server that the workflow tests start.
bash "$STACK_DIR/services/temporal-test-server.sh" up

# Things the servers need from us once they run: Kafka topics. Needs the Node dependencies.
if [ ! -x "$REPO_DIR/node_modules/.bin/tsx" ]; then
  log "installing Node dependencies (npm ci)"
  (cd "$REPO_DIR" && npm ci --no-audit --no-fund >"$LOG_DIR/npm-ci.log" 2>&1) || die "npm ci failed" "$LOG_DIR/npm-ci.log"
fi
(cd "$REPO_DIR" && node_modules/.bin/tsx stack/provision.ts) || die "provisioning (Kafka topics, database migrations) failed"
log "stack is up; logs in $LOG_DIR"
