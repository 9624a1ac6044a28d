#!/usr/bin/env bash
# The Temporal dev server from the real `temporal` CLI (built once with go install), with its Web UI,
# a SQLite file that survives restarts, and the project's custom search attributes in the app's
# namespace and the test suite's (stack.env). Its Web UI decodes payloads through the codec server
# that `npm start` runs (CODEC_SERVER_PORT); a server started before that flag existed needs a restart to get it
# (so does one started before DYNAMIC_CONFIG below: npm run stack:down, then stack:up).
# Usage: temporal.sh up|down|status
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

TEMPORAL_BIN_DIR="$ARTIFACT_DIR/temporal/$TEMPORAL_CLI_VERSION"
TEMPORAL_BIN="$TEMPORAL_BIN_DIR/temporal"
TEMPORAL_DATA="$STATE_DIR/temporal"
TEMPORAL_LOG="$LOG_DIR/temporal.log"
TEMPORAL_PID="$RUN_DIR/temporal.pid"
TEMPORAL_NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
NAMESPACES=("$TEMPORAL_NAMESPACE" "$TEST_TEMPORAL_NAMESPACE")

cli() { "$TEMPORAL_BIN" --address "127.0.0.1:$TEMPORAL_PORT" "$@"; }

search_attributes_registered() {
  local listed name namespace
  for namespace in "${NAMESPACES[@]}"; do
    listed="$(cli operator search-attribute list --namespace "$namespace" 2>/dev/null)" || return 1
    for pair in $TEMPORAL_SEARCH_ATTRIBUTES; do
      name="${pair%%=*}"
      grep -qw "$name" <<<"$listed" || return 1
    done
  done
}

# start-dev creates its --namespace list with the search attributes only in a new SQLite file;
# a server started before a namespace was added gets it (and the attributes) here, without a restart.
# Both CLI commands are no-ops for what exists already.
register_namespaces() {
  local namespace pair
  for namespace in "${NAMESPACES[@]}"; do
    cli operator namespace describe --namespace "$namespace" >/dev/null 2>&1 ||
      cli operator namespace create --namespace "$namespace" --retention 72h >/dev/null 2>&1 || return 1
    for pair in $TEMPORAL_SEARCH_ATTRIBUTES; do
      cli operator search-attribute create --namespace "$namespace" --name "${pair%%=*}" --type "${pair#*=}" >/dev/null 2>&1 || return 1
    done
  done
}

# Deleting a namespace (the test suite and the benchmarks delete theirs) runs in the server's own
# worker service, whose persistence budget is 500 QPS by default. The dev server refreshes its
# search-attribute cache on every visibility read, so the deletion's reads exhaust that budget, every
# attempt fails with "System Persistence Max QPS Reached" and starts again, and the server spun on
# that for hours (a fifth of a core, and slower benchmarks). The budget the CLI gives the history
# service, and one gentle deleting activity per namespace, let the deletions finish in seconds.
DYNAMIC_CONFIG=(
  --dynamic-config-value worker.persistenceMaxQPS=45000
  --dynamic-config-value frontend.deleteNamespaceConcurrentDeleteExecutionsActivities=1
  --dynamic-config-value frontend.deleteNamespaceDeleteActivityRPS=20
)

ensure_namespaces() {
  search_attributes_registered && return 0
  # A namespace just created takes a moment to reach the frontend: retry until it takes the attributes.
  wait_until 60 "temporal namespaces (${NAMESPACES[*]})" register_namespaces \
    || die "could not register namespaces ${NAMESPACES[*]} and their search attributes" "$TEMPORAL_LOG"
  wait_until 30 "temporal search attributes" search_attributes_registered \
    || die "custom search attributes are not registered" "$TEMPORAL_LOG"
}

healthy() {
  [ -x "$TEMPORAL_BIN" ] && pid_alive "$TEMPORAL_PID" &&
    cli operator cluster health 2>/dev/null | grep -q SERVING &&
    curl -fsS -o /dev/null "http://127.0.0.1:$TEMPORAL_UI_PORT/"
}

build_cli() {
  [ -x "$TEMPORAL_BIN" ] && return 0
  command -v go >/dev/null 2>&1 || die "Go >= 1.25 is needed to build the temporal CLI"
  log "building temporal CLI v$TEMPORAL_CLI_VERSION with go install (once; cached in $TEMPORAL_BIN_DIR)"
  mkdir -p "$TEMPORAL_BIN_DIR"
  GOBIN="$TEMPORAL_BIN_DIR" GOFLAGS=-trimpath go install "github.com/temporalio/cli/cmd/temporal@v$TEMPORAL_CLI_VERSION" \
    >"$LOG_DIR/temporal-build.log" 2>&1 || die "go install of the temporal CLI failed" "$LOG_DIR/temporal-build.log"
}

up() {
  if healthy; then
    ensure_namespaces
    log "temporal already running on $TEMPORAL_PORT (UI $TEMPORAL_UI_PORT)"
    return 0
  fi
  build_cli
  pid_alive "$TEMPORAL_PID" && stop_pid "$TEMPORAL_PID" temporal
  mkdir -p "$TEMPORAL_DATA"
  local sa_args=() ns_args=()
  for pair in $TEMPORAL_SEARCH_ATTRIBUTES; do sa_args+=(--search-attribute "$pair"); done
  for namespace in "${NAMESPACES[@]}"; do ns_args+=(--namespace "$namespace"); done
  log "starting temporal dev server on 127.0.0.1:$TEMPORAL_PORT, Web UI on http://127.0.0.1:$TEMPORAL_UI_PORT"
  # A session of its own, stdin closed (see kafka.sh).
  setsid nohup "$TEMPORAL_BIN" server start-dev \
    --ip 127.0.0.1 --port "$TEMPORAL_PORT" --ui-port "$TEMPORAL_UI_PORT" \
    --ui-codec-endpoint "http://127.0.0.1:$CODEC_SERVER_PORT" \
    "${ns_args[@]}" \
    --db-filename "$TEMPORAL_DATA/temporal.db" \
    --sqlite-pragma journal_mode=WAL --sqlite-pragma synchronous=NORMAL \
    --log-format json --log-level warn \
    "${DYNAMIC_CONFIG[@]}" \
    "${sa_args[@]}" </dev/null >"$TEMPORAL_LOG" 2>&1 &
  echo $! >"$TEMPORAL_PID"
  wait_until 120 temporal healthy || die "temporal did not become healthy in 120 s" "$TEMPORAL_LOG"
  ensure_namespaces
}

down() { stop_pid "$TEMPORAL_PID" temporal; }

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) healthy ;;
  bin) echo "$TEMPORAL_BIN" ;;
  *) die "usage: $0 up|down|status|bin" ;;
esac
