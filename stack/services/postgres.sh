#!/usr/bin/env bash
# PostgreSQL from the installed Debian binaries, in a data directory of our own.
# Usage: postgres.sh up|down|status
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

PG_BIN="/usr/lib/postgresql/$POSTGRES_MAJOR/bin"
PG_DATA="$STATE_DIR/postgres-$POSTGRES_MAJOR"
PG_LOG="$LOG_DIR/postgres.log"
PG_SOCKET_DIR="$RUN_DIR"
PG_OWNER="$( [ "$(id -u)" = 0 ] && echo postgres || id -un )"

healthy() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$POSTGRES_PORT"; }

psql_admin() {
  as_user "$PG_OWNER" "$PG_BIN/psql" -h "$PG_SOCKET_DIR" -p "$POSTGRES_PORT" -d postgres -v ON_ERROR_STOP=1 -qAt "$@"
}

init_cluster() {
  [ -x "$PG_BIN/initdb" ] || die "PostgreSQL $POSTGRES_MAJOR is not installed ($PG_BIN/initdb missing): apt-get install postgresql-$POSTGRES_MAJOR"
  log "initialising PostgreSQL data directory $PG_DATA"
  mkdir -p "$PG_DATA"
  chown "$PG_OWNER" "$PG_DATA"
  chmod 700 "$PG_DATA"
  as_user "$PG_OWNER" "$PG_BIN/initdb" -D "$PG_DATA" -U "$PG_OWNER" --auth-local=peer --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >"$LOG_DIR/postgres-initdb.log" 2>&1 \
    || die "initdb failed" "$LOG_DIR/postgres-initdb.log"
  cat >>"$PG_DATA/postgresql.conf" <<CONF
# orders-on-temporal
listen_addresses = '127.0.0.1'
port = $POSTGRES_PORT
unix_socket_directories = '$PG_SOCKET_DIR'
max_connections = 200
shared_buffers = 256MB
wal_level = replica
CONF
}

ensure_app_role() {
  local exists
  exists="$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$POSTGRES_USER'")"
  if [ "$exists" != 1 ]; then
    psql_admin -c "CREATE ROLE \"$POSTGRES_USER\" LOGIN PASSWORD '$POSTGRES_PASSWORD' CREATEDB"
  fi
  exists="$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$POSTGRES_DB'")"
  if [ "$exists" != 1 ]; then
    psql_admin -c "CREATE DATABASE \"$POSTGRES_DB\" OWNER \"$POSTGRES_USER\""
  fi
}

up() {
  if healthy; then
    log "postgres already running on $POSTGRES_PORT"
  else
    [ -f "$PG_DATA/PG_VERSION" ] || init_cluster
    log "starting postgres on 127.0.0.1:$POSTGRES_PORT"
    as_user "$PG_OWNER" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 start >/dev/null \
      || die "postgres did not start" "$PG_LOG"
    wait_until 60 postgres healthy || die "postgres is not accepting connections" "$PG_LOG"
  fi
  ensure_app_role
}

down() {
  if [ -f "$PG_DATA/postmaster.pid" ]; then
    as_user "$PG_OWNER" "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
    log "postgres stopped"
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) healthy ;;
  *) die "usage: $0 up|down|status" ;;
esac
