# Shared helpers for the stack scripts: paths, logging, health polling. Sourced, never run.
set -euo pipefail

STACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$STACK_DIR/.." && pwd)"
# shellcheck source=stack.env
source "$STACK_DIR/stack.env"

# Heavy, versioned artifacts (binaries, jars) are cached per user, outside the clone, so a fresh
# clone (CI) reuses them.
ARTIFACT_DIR="${ORDERS_ARTIFACT_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/orders-on-temporal}"
# Server state and logs. As root the servers run as their service users (postgres, rabbitmq), who
# cannot enter /root, so state lives under /var/lib.
if [ "$(id -u)" = 0 ]; then
  STATE_DIR="${ORDERS_STATE_DIR:-/var/lib/orders-on-temporal}"
else
  STATE_DIR="${ORDERS_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/orders-on-temporal}"
fi
LOG_DIR="$STATE_DIR/logs"
RUN_DIR="$STATE_DIR/run"

mkdir -p "$ARTIFACT_DIR" "$STATE_DIR" "$LOG_DIR" "$RUN_DIR"
# Service users write their own log files here.
chmod 1777 "$LOG_DIR" "$RUN_DIR" 2>/dev/null || true

log() { printf '[stack] %s\n' "$*" >&2; }

die() {
  # A service that cannot start fails loudly with the reason and the tail of its log.
  local msg="$1" logfile="${2:-}"
  printf '[stack] ERROR: %s\n' "$msg" >&2
  if [ -n "$logfile" ] && [ -f "$logfile" ]; then
    printf '[stack] last lines of %s:\n' "$logfile" >&2
    tail -n 40 "$logfile" >&2
  fi
  exit 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_until <seconds> <description> <command...>: polls the command until it succeeds.
wait_until() {
  local timeout="$1" what="$2"
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      return 1
    fi
    sleep 0.3
  done
  log "$what is healthy"
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_pid <pidfile> <name>: SIGTERM, wait for a graceful exit, SIGKILL as a last resort.
stop_pid() {
  local pidfile="$1" name="$2"
  if ! pid_alive "$pidfile"; then
    rm -f "$pidfile"
    return 0
  fi
  local pid
  pid="$(cat "$pidfile")"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "$name did not stop in 30 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$pidfile"
  log "$name stopped"
}

as_user() {
  # Runs a command as a service user when we are root, else as ourselves.
  local user="$1"
  shift
  if [ "$(id -u)" = 0 ]; then
    runuser -u "$user" -- "$@"
  else
    "$@"
  fi
}
