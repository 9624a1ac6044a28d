#!/usr/bin/env bash
# Jaeger v2 all-in-one, the tracing backend: built once from its Go module (cmd/jaeger) into the
# artifact cache, run with stack/jaeger/config.yaml (OTLP in on 4317/4318, traces in memory, UI and
# query API on JAEGER_UI_PORT). Traces do not survive a restart.
# Usage: jaeger.sh up|down|status|bin
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

JAEGER_DIR="$ARTIFACT_DIR/jaeger/$JAEGER_VERSION"
JAEGER_BIN="$JAEGER_DIR/jaeger"
JAEGER_LOG="$LOG_DIR/jaeger.log"
JAEGER_PID="$RUN_DIR/jaeger.pid"
JAEGER_CONFIG="$STACK_DIR/jaeger/config.yaml"

healthy() {
  [ -x "$JAEGER_BIN" ] && pid_alive "$JAEGER_PID" &&
    curl -fsS -o /dev/null "http://127.0.0.1:$JAEGER_HEALTH_PORT/status" &&
    curl -fsS -o /dev/null "http://127.0.0.1:$JAEGER_UI_PORT/api/services" &&
    port_open "$JAEGER_OTLP_HTTP_PORT"
}

# A module of its own in the cache that names jaeger as a tool: `go get -tool` pins the version and
# its dependencies, `go build` makes the binary (minutes on two cores, once per version).
build() {
  [ -x "$JAEGER_BIN" ] && return 0
  command -v go >/dev/null 2>&1 || die "Go >= 1.25 is needed to build Jaeger"
  local module="$JAEGER_DIR/module" build_log="$LOG_DIR/jaeger-build.log"
  log "building Jaeger v$JAEGER_VERSION with go build (once, several minutes; cached in $JAEGER_DIR; log $build_log)"
  mkdir -p "$module"
  (
    cd "$module"
    [ -f go.mod ] || go mod init orders-on-temporal/jaeger-build
    go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@v$JAEGER_VERSION"
    GOFLAGS="-trimpath -buildvcs=false" go build -o "$JAEGER_BIN.partial" github.com/jaegertracing/jaeger/cmd/jaeger
    mv "$JAEGER_BIN.partial" "$JAEGER_BIN"
  ) >"$build_log" 2>&1 || die "building Jaeger v$JAEGER_VERSION failed" "$build_log"
}

up() {
  if healthy; then
    log "jaeger already running (OTLP $JAEGER_OTLP_GRPC_PORT/$JAEGER_OTLP_HTTP_PORT, UI http://127.0.0.1:$JAEGER_UI_PORT)"
    return 0
  fi
  build
  pid_alive "$JAEGER_PID" && stop_pid "$JAEGER_PID" jaeger
  for port in "$JAEGER_OTLP_GRPC_PORT" "$JAEGER_OTLP_HTTP_PORT" "$JAEGER_UI_PORT" "$JAEGER_HEALTH_PORT" "$JAEGER_METRICS_PORT"; do
    port_open "$port" && die "port $port, which Jaeger needs, is taken by another process"
  done
  log "starting jaeger: OTLP 127.0.0.1:$JAEGER_OTLP_GRPC_PORT (gRPC) and :$JAEGER_OTLP_HTTP_PORT (HTTP), UI http://127.0.0.1:$JAEGER_UI_PORT"
  # A session of its own, stdin closed (see kafka.sh).
  JAEGER_LISTEN_HOST=127.0.0.1 JAEGER_OTLP_GRPC_PORT="$JAEGER_OTLP_GRPC_PORT" JAEGER_OTLP_HTTP_PORT="$JAEGER_OTLP_HTTP_PORT" \
    JAEGER_UI_PORT="$JAEGER_UI_PORT" JAEGER_QUERY_GRPC_PORT="$JAEGER_QUERY_GRPC_PORT" JAEGER_HEALTH_PORT="$JAEGER_HEALTH_PORT" \
    JAEGER_METRICS_PORT="$JAEGER_METRICS_PORT" \
    setsid nohup "$JAEGER_BIN" --config "$JAEGER_CONFIG" </dev/null >"$JAEGER_LOG" 2>&1 &
  echo $! >"$JAEGER_PID"
  wait_until 60 jaeger healthy || die "jaeger did not become healthy in 60 s" "$JAEGER_LOG"
}

down() { stop_pid "$JAEGER_PID" jaeger; }

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) healthy ;;
  bin) echo "$JAEGER_BIN" ;;
  *) die "usage: $0 up|down|status|bin" ;;
esac
