#!/bin/bash
# Entry point of the local Kafka image: writes server.properties from KAFKA_* variables (the
# official apache/kafka image's rules: drop KAFKA_, lower-case, "___" -> "-", "__" -> "_",
# "_" -> "."), formats a fresh log directory, then runs the broker in the foreground so that
# `docker stop` (SIGTERM) shuts it down cleanly.
set -euo pipefail

KAFKA_HOME=/opt/kafka
PROPS=/tmp/server.properties
CP="$KAFKA_HOME/libs/*"
# The storage formatter is a short-lived JVM: start it the quick way.
TOOL_JVM=(-Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto
  "-Dlog4j2.configurationFile=$KAFKA_HOME/config/tools-log4j2.xml")

# Variables that configure the JVM or the image, not the broker (as in apache/kafka).
not_properties=" KAFKA_HEAP_OPTS KAFKA_OPTS KAFKA_JVM_PERFORMANCE_OPTS KAFKA_LOG4J_OPTS KAFKA_JMX_OPTS KAFKA_GC_LOG_OPTS KAFKA_VERSION KAFKA_HOME "

configured=0
: >"$PROPS"
while IFS='=' read -r name value; do
  [[ "$name" == KAFKA_* ]] || continue
  [[ "$not_properties" == *" $name "* ]] && continue
  key="${name#KAFKA_}"
  key="${key,,}"
  key="${key//___/-}"
  key="${key//__/@}"
  key="${key//_/.}"
  key="${key//@/_}"
  printf '%s=%s\n' "$key" "${!name}" >>"$PROPS"
  configured=1
done < <(env)

if ((configured == 0)); then
  # No configuration given: a single node on 9092 advertised as localhost, like apache/kafka.
  cat >"$PROPS" <<'PROPS'
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@localhost:9093
listeners=PLAINTEXT://:9092,CONTROLLER://:9093
advertised.listeners=PLAINTEXT://localhost:9092
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
fi
grep -q '^log\.dirs=' "$PROPS" || echo "log.dirs=/var/lib/kafka/data" >>"$PROPS"

# A fixed default id (as apache/kafka has) saves a JVM start; each container is its own cluster.
cluster_id="${CLUSTER_ID:-MkU3OEVBNTcwNTJENDM2Qk}"
# Static voters (controller.quorum.voters) format as they are; a bootstrap-servers quorum needs
# --standalone on its single node.
format_mode=()
grep -q '^controller\.quorum\.voters=' "$PROPS" || format_mode=(--standalone)
# --ignore-formatted: a restarted container keeps its log directory, and its data.
java "${TOOL_JVM[@]}" -cp "$CP" kafka.tools.StorageTool format --ignore-formatted "${format_mode[@]}" \
  -t "$cluster_id" -c "$PROPS" >/dev/null

exec java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m} -XX:+UseG1GC -Djava.awt.headless=true \
  -Dlog4j2.configurationFile="$KAFKA_HOME/config/log4j2.xml" ${KAFKA_OPTS:-} \
  -cp "$CP" kafka.Kafka "$PROPS"
