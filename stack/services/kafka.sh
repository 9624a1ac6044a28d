#!/usr/bin/env bash
# Apache Kafka, single node in KRaft mode, from jars that Maven resolves (stack/kafka/pom.xml).
# Usage: kafka.sh up|down|status
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

KAFKA_LIB="$ARTIFACT_DIR/kafka/$KAFKA_VERSION/lib"
KAFKA_DATA="$STATE_DIR/kafka-$KAFKA_VERSION"
KAFKA_CONFIG="$KAFKA_DATA/server.properties"
KAFKA_LOG="$LOG_DIR/kafka.log"
KAFKA_PID="$RUN_DIR/kafka.pid"
KAFKA_HEAP="${KAFKA_HEAP:-512m}"

healthy() { pid_alive "$KAFKA_PID" && port_open "$KAFKA_PORT" && grep -q 'Kafka Server started' "$KAFKA_LOG"; }

resolve_jars() {
  [ -f "$KAFKA_LIB/.complete" ] && return 0
  command -v mvn >/dev/null 2>&1 || die "Maven (mvn) is needed to fetch the Kafka jars"
  log "resolving Apache Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_LIB"
  rm -rf "$KAFKA_LIB" && mkdir -p "$KAFKA_LIB"
  mvn -q -B -f "$STACK_DIR/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DoutputDirectory="$KAFKA_LIB" >"$LOG_DIR/kafka-maven.log" 2>&1 \
    || die "Maven could not resolve the Kafka jars" "$LOG_DIR/kafka-maven.log"
  touch "$KAFKA_LIB/.complete"
}

kafka_java() { java -Xms128m -Xmx"$KAFKA_HEAP" -cp "$KAFKA_LIB/*" "$@"; }

write_config() {
  mkdir -p "$KAFKA_DATA/log"
  cat >"$KAFKA_CONFIG" <<CONF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$KAFKA_DATA/log
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
CONF
  cat >"$KAFKA_DATA/log4j2.properties" <<CONF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $KAFKA_LOG
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.controller.name = org.apache.kafka.controller
logger.controller.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
CONF
}

format_storage() {
  [ -f "$KAFKA_DATA/log/meta.properties" ] && return 0
  log "formatting Kafka KRaft storage in $KAFKA_DATA/log"
  local cluster_id
  cluster_id="$(kafka_java kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)"
  kafka_java kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$KAFKA_CONFIG" \
    >"$LOG_DIR/kafka-format.log" 2>&1 || die "Kafka storage format failed" "$LOG_DIR/kafka-format.log"
}

up() {
  if healthy; then
    log "kafka already running on $KAFKA_PORT"
    return 0
  fi
  command -v java >/dev/null 2>&1 || die "Java 17+ is needed to run Kafka"
  resolve_jars
  write_config
  format_storage
  log "starting kafka (KRaft) on 127.0.0.1:$KAFKA_PORT, heap $KAFKA_HEAP"
  : >"$KAFKA_LOG"
  # A session of its own, stdin closed: the broker outlives whoever started it (a test restarting it,
  # a terminal's Ctrl-C) and holds none of its pipes.
  setsid nohup java -Xms256m -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_DATA/log4j2.properties" \
    -cp "$KAFKA_LIB/*" kafka.Kafka "$KAFKA_CONFIG" </dev/null >"$LOG_DIR/kafka-stdout.log" 2>&1 &
  echo $! >"$KAFKA_PID"
  wait_until 120 kafka healthy || {
    cat "$LOG_DIR/kafka-stdout.log" >>"$KAFKA_LOG"
    die "kafka did not start in 120 s" "$KAFKA_LOG"
  }
}

down() { stop_pid "$KAFKA_PID" kafka; }

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) healthy ;;
  *) die "usage: $0 up|down|status" ;;
esac
