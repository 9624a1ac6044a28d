#!/usr/bin/env bash
# The Java SDK's time-skipping Temporal test server, for the workflow tests (test/workflow/). Nothing
# runs here: each test file starts its own server through @temporalio/testing. This resolves the jars
# with Maven (stack/temporal-test-server/pom.xml) into the artifact cache and writes the launcher the
# SDK runs (it passes the port as the only argument).
# Usage: temporal-test-server.sh up|status|path
#   up      resolve the jars if missing and (re)write the launcher; idempotent, seconds when cached
#   status  exit 0 when the jars and the launcher are in place
#   path    print the launcher's path
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

TEST_SERVER_DIR="$ARTIFACT_DIR/temporal-test-server/$TEMPORAL_TEST_SERVER_VERSION"
TEST_SERVER_LIB="$TEST_SERVER_DIR/lib"
TEST_SERVER_LAUNCHER="$TEST_SERVER_DIR/temporal-test-server"
TEST_SERVER_LOG="$LOG_DIR/temporal-test-server.log"
MAVEN_LOG="$LOG_DIR/temporal-test-server-maven.log"
# A class-data archive of the server's own classes, made once per JVM: the server then starts in well
# under a second instead of 2-4 s, and every test file starts one.
CDS_ARCHIVE="$TEST_SERVER_DIR/classes.jsa"
CDS_JVM="$TEST_SERVER_DIR/classes.jvm"
JAVA_OPTS="-Xms32m -XX:+UseSerialGC -XX:TieredStopAtLevel=1"

# The launcher, as it should read. The server's own output (SLF4J and gRPC notices) goes to a log
# file, not to the test run's terminal. A small heap and the quick JIT tier: the server holds only a
# test file's workflows, and it starts faster so. -Xshare:auto: a stale archive is ignored, not fatal.
launcher_text() {
  local cds=""
  [ -f "$CDS_ARCHIVE" ] && cds=" -Xshare:auto -XX:SharedArchiveFile=$CDS_ARCHIVE"
  cat <<LAUNCHER
#!/usr/bin/env bash
# Written (and kept current) by stack/services/temporal-test-server.sh.
exec java $JAVA_OPTS -Xmx"\${TEMPORAL_TEST_SERVER_HEAP:-256m}"$cds \\
  -cp "$TEST_SERVER_LIB/*" io.temporal.testserver.TestServer "\$@" >>"\${TEMPORAL_TEST_SERVER_LOG:-$TEST_SERVER_LOG}" 2>&1
LAUNCHER
}

jars_resolved() { [ -f "$TEST_SERVER_LIB/.complete" ]; }
launcher_current() { [ -x "$TEST_SERVER_LAUNCHER" ] && [ "$(cat "$TEST_SERVER_LAUNCHER")" = "$(launcher_text)" ]; }

resolve_jars() {
  jars_resolved && return 0
  command -v mvn >/dev/null 2>&1 || die "Maven (mvn) is needed to fetch the Temporal test server's jars"
  log "resolving io.temporal:temporal-test-server:$TEMPORAL_TEST_SERVER_VERSION from Maven Central into $TEST_SERVER_LIB"
  # Into a fresh directory that is renamed into place only when complete, so an interrupted run
  # leaves no half-filled lib/ behind.
  local staging="$TEST_SERVER_DIR/lib.partial.$$"
  rm -rf "$staging" && mkdir -p "$staging"
  mvn -q -B -f "$STACK_DIR/temporal-test-server/pom.xml" -Dtemporal-test-server.version="$TEMPORAL_TEST_SERVER_VERSION" \
    dependency:copy-dependencies -DoutputDirectory="$staging" >"$MAVEN_LOG" 2>&1 || {
    rm -rf "$staging"
    die "Maven could not resolve io.temporal:temporal-test-server:$TEMPORAL_TEST_SERVER_VERSION" "$MAVEN_LOG"
  }
  compgen -G "$staging/temporal-test-server-*.jar" >/dev/null || {
    rm -rf "$staging"
    die "Maven finished but no temporal-test-server jar is in $staging" "$MAVEN_LOG"
  }
  touch "$staging/.complete"
  rm -rf "$TEST_SERVER_LIB" && mv "$staging" "$TEST_SERVER_LIB"
}

jvm_identity() { java -Xshare:off -version 2>&1; }

# Runs the server once, until it listens, and archives the classes it loaded. Only a speed-up: when it
# fails the launcher simply runs without the archive.
train_class_archive() {
  [ -f "$CDS_ARCHIVE" ] && [ "$(cat "$CDS_JVM" 2>/dev/null)" = "$(jvm_identity)" ] && return 0
  rm -f "$CDS_ARCHIVE" "$CDS_JVM"
  local port=$((20000 + RANDOM % 30000)) staging="$CDS_ARCHIVE.partial.$$" pid
  while port_open "$port"; do port=$((20000 + RANDOM % 30000)); done
  log "archiving the Temporal test server's classes (faster start) into $CDS_ARCHIVE"
  # shellcheck disable=SC2086
  java $JAVA_OPTS -Xmx256m -XX:ArchiveClassesAtExit="$staging" -cp "$TEST_SERVER_LIB/*" \
    io.temporal.testserver.TestServer "$port" </dev/null >"$LOG_DIR/temporal-test-server-cds.log" 2>&1 &
  pid=$!
  if wait_until 60 "temporal test server for the class archive" port_open "$port"; then
    sleep 1
  fi
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ -s "$staging" ]; then
    mv -f "$staging" "$CDS_ARCHIVE" && jvm_identity >"$CDS_JVM"
  else
    rm -f "$staging"
    log "no class archive was written (see $LOG_DIR/temporal-test-server-cds.log); the server starts without it"
  fi
}

write_launcher() {
  launcher_current && return 0
  local staging="$TEST_SERVER_LAUNCHER.partial.$$"
  launcher_text >"$staging" && chmod +x "$staging" && mv -f "$staging" "$TEST_SERVER_LAUNCHER"
}

up() {
  command -v java >/dev/null 2>&1 || die "Java 17+ is needed to run the Temporal test server"
  mkdir -p "$TEST_SERVER_DIR"
  # One provisioner at a time: test processes and `stack/up.sh` may all ask at once.
  exec 9>"$TEST_SERVER_DIR/.lock"
  flock 9
  resolve_jars
  train_class_archive
  write_launcher
  flock -u 9
}

case "${1:-}" in
  up) up ;;
  status) jars_resolved && launcher_current ;;
  path) echo "$TEST_SERVER_LAUNCHER" ;;
  *) die "usage: $0 up|status|path" ;;
esac
