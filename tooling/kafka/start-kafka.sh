#!/usr/bin/env bash
# Start a single-node KRaft Kafka (broker+controller) on 127.0.0.1:9092, from the jars on
# Maven Central (see pom.xml). Idempotent: if a working Kafka already answers on
# 127.0.0.1:9092 it says so and exits 0.
#
#   tooling/kafka/start-kafka.sh      # start (or confirm running)
#   tooling/kafka/stop-kafka.sh       # stop (SIGTERM, waits for exit)
#
# State (jars, config, log, pid, data) lives under $KAFKA_STATE_DIR
# (default /var/tmp/eventsource-kafka); each start gets a fresh, empty log.dirs.
# The broker's log: $KAFKA_STATE_DIR/kafka.log
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="${KAFKA_STATE_DIR:-/var/tmp/eventsource-kafka}"
TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
HOST=127.0.0.1
PORT=9092
CONTROLLER_PORT=9093
BOOTSTRAP="$HOST:$PORT"

LOG="$STATE/kafka.log"
PIDFILE="$STATE/kafka.pid"
DATADIR_FILE="$STATE/kafka.datadir"
PROPS="$STATE/server.properties"
LOG4J="$STATE/log4j2.xml"
TOOLS_LOG4J="$STATE/tools-log4j2.xml"
ADMIN_PROPS="$STATE/admin.properties"

say() { echo "kafka: $*"; }
die() { echo "kafka: ERROR: $*" >&2; exit 1; }

command -v java >/dev/null || die "java not found (Kafka 4 needs Java 17+)"
mkdir -p "$STATE"

# One start at a time (CI and several engineers may call this concurrently).
exec 9>"$STATE/.lock"
flock -w 180 9 || die "another start-kafka.sh holds $STATE/.lock for more than 180 s"

# ---- jars (cached per pom.xml content; Maven itself caches in ~/.m2) -------------------------
JARS="$("$HERE/kafka-jars.sh")" || die "could not get the Kafka jars (see above)"
CP="$JARS/*"

# ---- configs -------------------------------------------------------------------------------
# Broker: console only; stdout is redirected to $LOG.
cat >"$LOG4J" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="warn">
  <Appenders>
    <Console name="STDOUT" target="SYSTEM_OUT">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Logger name="kafka" level="info"/>
    <Logger name="org.apache.kafka" level="info"/>
    <Logger name="kafka.request.logger" level="warn"/>
    <Logger name="state.change.logger" level="warn"/>
    <Logger name="kafka.controller" level="info"/>
    <Logger name="org.apache.kafka.clients" level="warn"/>
    <Root level="info"><AppenderRef ref="STDOUT"/></Root>
  </Loggers>
</Configuration>
EOF
# Admin tools: errors only, on stderr.
cat >"$TOOLS_LOG4J" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="error">
  <Appenders><Console name="STDERR" target="SYSTEM_ERR"><PatternLayout pattern="%p %m (%c)%n"/></Console></Appenders>
  <Loggers><Root level="error"><AppenderRef ref="STDERR"/></Root></Loggers>
</Configuration>
EOF
cat >"$ADMIN_PROPS" <<'EOF'
request.timeout.ms=3000
default.api.timeout.ms=5000
socket.connection.setup.timeout.ms=1000
socket.connection.setup.timeout.max.ms=2000
EOF

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# Does a working Kafka answer on $BOOTSTRAP? (lists topics through the admin API)
kafka_answers() {
  port_open "$HOST" "$PORT" || return 1
  timeout 30 java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -Dlog4j2.configurationFile="$TOOLS_LOG4J" -cp "$CP" \
    org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" \
    --command-config "$ADMIN_PROPS" --list >/dev/null 2>"$STATE/probe.err"
}

# The first consumer group on a fresh broker creates __consumer_offsets and, while it loads,
# clients get "coordinator is loading" errors. Trigger that now (FindCoordinator through a
# group describe) and wait, bounded, until the topic is listed. Best effort.
warm_up_group_coordinator() {
  local i
  for ((i = 0; i < 15; i++)); do
    timeout 20 java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
      -Dlog4j2.configurationFile="$TOOLS_LOG4J" -cp "$CP" \
      org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --bootstrap-server "$BOOTSTRAP" \
      --command-config "$ADMIN_PROPS" --describe --group eventsource-warmup >/dev/null 2>&1 || true
    if timeout 20 java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
        -Dlog4j2.configurationFile="$TOOLS_LOG4J" -cp "$CP" \
        org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" \
        --command-config "$ADMIN_PROPS" --list 2>/dev/null | grep -qx '__consumer_offsets'; then
      return 0
    fi
    sleep 1
  done
  say "note: __consumer_offsets not created yet; the first consumer group may see 'coordinator is loading' retries"
}

pid_alive() { [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

if kafka_answers; then
  if pid_alive; then
    say "ok, already running (pid $(cat "$PIDFILE"), $BOOTSTRAP, log $LOG)"
  else
    say "ok, a working Kafka already answers on $BOOTSTRAP (not started by this script)"
  fi
  exit 0
fi

if port_open "$HOST" "$PORT"; then
  if ! pid_alive; then
    cat "$STATE/probe.err" >&2 || true
    die "something listens on $BOOTSTRAP but does not answer as Kafka; free the port (ss -ltnp 'sport = :$PORT')"
  fi
fi
if pid_alive; then
  # Ours, but not answering (wedged or half-started): replace it.
  say "pid $(cat "$PIDFILE") from an earlier start does not answer; stopping it"
  "$HERE/stop-kafka.sh" || die "could not stop the old broker (pid $(cat "$PIDFILE"))"
fi
if port_open "$HOST" "$CONTROLLER_PORT"; then
  die "port $HOST:$CONTROLLER_PORT (KRaft controller) is taken by another process; free it (ss -ltnp 'sport = :$CONTROLLER_PORT')"
fi

# ---- fresh data dir + server.properties ----------------------------------------------------
# Remove data dirs of earlier runs (nothing of ours is running now).
find "$STATE" -maxdepth 1 -type d -name 'data-*' -exec rm -rf {} +
DATA="$STATE/data-$(date +%Y%m%d-%H%M%S)-$$"
mkdir -p "$DATA"
echo "$DATA" >"$DATADIR_FILE"

cat >"$PROPS" <<EOF
# Generated by tooling/kafka/start-kafka.sh: single-node KRaft (broker + controller), loopback only.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA
num.partitions=3
auto.create.topics.enable=true
# one node: the defaults (RF 3, min ISR 2) would never become ready
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF

say "formatting $DATA"
CLUSTER_ID="$(java -Dlog4j2.configurationFile="$TOOLS_LOG4J" -cp "$CP" kafka.tools.StorageTool random-uuid)"
if ! java -Dlog4j2.configurationFile="$TOOLS_LOG4J" -cp "$CP" kafka.tools.StorageTool \
      format --standalone -t "$CLUSTER_ID" -c "$PROPS" >"$STATE/format.log" 2>&1; then
  cat "$STATE/format.log" >&2
  die "kafka.tools.StorageTool format failed (see above, config $PROPS)"
fi

# ---- start ---------------------------------------------------------------------------------
: >"$LOG"
say "starting Kafka (log $LOG)"
# setsid: own session, so it outlives the calling shell/CI step. 9>&-: the broker must not
# inherit (and so hold forever) the start lock.
setsid nohup java -Xms256m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true \
  -Dlog4j2.configurationFile="$LOG4J" -cp "$CP" \
  kafka.Kafka "$PROPS" >>"$LOG" 2>&1 </dev/null 9>&- &
echo $! >"$PIDFILE"
PID="$(cat "$PIDFILE")"

started=$SECONDS
printf 'kafka: waiting up to %ss for %s ' "$TIMEOUT" "$BOOTSTRAP"
while :; do
  if ! kill -0 "$PID" 2>/dev/null; then
    echo
    echo "---- last 50 lines of $LOG ----" >&2; tail -n 50 "$LOG" >&2 || true
    rm -f "$PIDFILE"
    die "the broker process exited during startup; read $LOG (config $PROPS)"
  fi
  if kafka_answers; then
    echo
    warm_up_group_coordinator
    say "ok, started in $((SECONDS - started))s (pid $PID, $BOOTSTRAP, log $LOG)"
    exit 0
  fi
  if (( SECONDS - started >= TIMEOUT )); then
    echo
    echo "---- last 50 lines of $LOG ----" >&2; tail -n 50 "$LOG" >&2 || true
    echo "---- last admin probe error ----" >&2; tail -n 5 "$STATE/probe.err" >&2 || true
    die "Kafka did not answer on $BOOTSTRAP within ${TIMEOUT}s; it is still running as pid $PID — read $LOG, stop it with $HERE/stop-kafka.sh"
  fi
  printf '.'
  sleep 1
done
