#!/usr/bin/env bash
# Stop the Kafka started by start-kafka.sh: SIGTERM (clean shutdown), wait for it to exit.
set -euo pipefail

STATE="${KAFKA_STATE_DIR:-/var/tmp/eventsource-kafka}"
PIDFILE="$STATE/kafka.pid"
WAIT="${KAFKA_STOP_TIMEOUT:-60}"

if [[ ! -f "$PIDFILE" ]]; then
  echo "kafka: not running (no $PIDFILE)"
  exit 0
fi
PID="$(cat "$PIDFILE")"
if ! kill -0 "$PID" 2>/dev/null; then
  echo "kafka: not running (stale pid $PID)"
  rm -f "$PIDFILE"
  exit 0
fi
if ! tr '\0' ' ' <"/proc/$PID/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka'; then
  echo "kafka: ERROR: pid $PID is not a kafka.Kafka process; not touching it (remove $PIDFILE)" >&2
  exit 1
fi

printf 'kafka: stopping pid %s ' "$PID"
kill -TERM "$PID"
for ((i = 0; i < WAIT; i++)); do
  if ! kill -0 "$PID" 2>/dev/null; then
    echo
    rm -f "$PIDFILE"
    echo "kafka: stopped"
    exit 0
  fi
  printf '.'
  sleep 1
done
echo
echo "kafka: did not exit ${WAIT}s after SIGTERM; sending SIGKILL" >&2
kill -KILL "$PID" 2>/dev/null || true
sleep 1
rm -f "$PIDFILE"
echo "kafka: killed"
