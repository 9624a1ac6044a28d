#!/usr/bin/env bash
# RabbitMQ from Debian's rabbitmq-server package (installed when absent), with the management plugin.
# Usage: rabbitmq.sh up|down|status
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

# Debian's wrappers switch to the rabbitmq user and keep these variables.
export RABBITMQ_MNESIA_BASE="$STATE_DIR/rabbitmq/mnesia"
export RABBITMQ_LOGS="$LOG_DIR/rabbitmq.log"
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT="$RABBITMQ_PORT"
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-rabbitmq_management tcp_config [{port,$RABBITMQ_MANAGEMENT_PORT},{ip,\"127.0.0.1\"}]"

healthy() {
  port_open "$RABBITMQ_PORT" &&
    curl -fsS -u guest:guest "http://127.0.0.1:$RABBITMQ_MANAGEMENT_PORT/api/health/checks/alarms" >/dev/null
}

install_if_absent() {
  command -v rabbitmq-server >/dev/null 2>&1 && return 0
  [ "$(id -u)" = 0 ] || die "rabbitmq-server is not installed; run as root or: sudo apt-get install -y rabbitmq-server"
  log "installing Debian's rabbitmq-server"
  { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y rabbitmq-server; } >"$LOG_DIR/rabbitmq-install.log" 2>&1 \
    || die "apt-get install rabbitmq-server failed" "$LOG_DIR/rabbitmq-install.log"
}

up() {
  if healthy; then
    log "rabbitmq already running on $RABBITMQ_PORT"
    return 0
  fi
  install_if_absent
  mkdir -p "$RABBITMQ_MNESIA_BASE"
  [ "$(id -u)" = 0 ] && chown -R rabbitmq:rabbitmq "$STATE_DIR/rabbitmq"
  rabbitmq-plugins enable --offline rabbitmq_management >/dev/null 2>&1 \
    || die "could not enable rabbitmq_management"
  log "starting rabbitmq on 127.0.0.1:$RABBITMQ_PORT (management on $RABBITMQ_MANAGEMENT_PORT)"
  rabbitmq-server -detached >"$LOG_DIR/rabbitmq-start.log" 2>&1 || die "rabbitmq-server -detached failed" "$LOG_DIR/rabbitmq-start.log"
  wait_until 90 rabbitmq healthy || die "rabbitmq did not become healthy in 90 s" "$RABBITMQ_LOGS"
}

down() {
  if command -v rabbitmqctl >/dev/null 2>&1 && port_open "$RABBITMQ_PORT"; then
    rabbitmqctl stop >/dev/null 2>&1 || true
    wait_until 30 "rabbitmq (stopping)" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$RABBITMQ_PORT)" || true
    log "rabbitmq stopped"
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) healthy ;;
  *) die "usage: $0 up|down|status" ;;
esac
