#!/usr/bin/env bash
# Make sure the local test brokers answer on loopback, starting each one that does not:
#   Redis     127.0.0.1:6379
#   RabbitMQ  127.0.0.1:5672
#   Kafka     127.0.0.1:9092   (tooling/kafka/start-kafka.sh)
#
#   tooling/scripts/ensure-brokers.sh                 # all three
#   tooling/scripts/ensure-brokers.sh redis kafka     # only some
#
# Prints one "<broker>: ok (host:port)" line per broker, then the env lines tests use (with
# credentials masked). Exits non-zero if any broker cannot be made to answer.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RABBIT_WAIT="${RABBIT_WAIT:-60}"
REDIS_WAIT="${REDIS_WAIT:-15}"

log() { echo "$*" >&2; }

# ---- Redis ---------------------------------------------------------------------------------
redis_answers() {
  if command -v redis-cli >/dev/null; then
    [[ "$(timeout 3 redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" == "PONG" ]]
  else
    timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/6379 && printf "PING\r\n" >&3 && head -c 5 <&3' 2>/dev/null | grep -q PONG
  fi
}

apt_updated=0
apt_install() {
  if ((apt_updated == 0)); then
    log "apt-get update ..."
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

ensure_redis() {
  redis_answers && return 0
  log "redis: not answering on 127.0.0.1:6379; starting redis-server"
  if ! command -v redis-server >/dev/null; then
    apt_install redis-server || { log "redis: apt-get install redis-server failed"; return 1; }
    # the package may have started its own instance
    redis_answers && return 0
  fi
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log >&2 || true
  for ((i = 0; i < REDIS_WAIT * 2; i++)); do
    redis_answers && return 0
    sleep 0.5
  done
  log "redis: did not answer within ${REDIS_WAIT}s; last lines of /var/log/redis/ci.log:"
  tail -n 20 /var/log/redis/ci.log >&2 2>/dev/null || true
  return 1
}

# ---- RabbitMQ ------------------------------------------------------------------------------
# Proves AMQP itself works, without credentials: send the AMQP 0-9-1 protocol header and expect
# the server's first frame (Connection.Start, frame type 1).
amqp_answers() {
  timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5672 && printf "AMQP\x00\x00\x09\x01" >&3 && head -c 1 <&3' 2>/dev/null \
    | od -An -tx1 | grep -q '01'
}

ensure_rabbitmq() {
  amqp_answers && return 0
  if ! command -v rabbitmq-server >/dev/null; then
    log "rabbitmq: rabbitmq-server is not installed (apt-get install rabbitmq-server)"
    return 1
  fi
  # The node may already be booting (the port takes 5-15 s to open); only start it if not.
  if timeout 15 rabbitmq-diagnostics -q ping >/dev/null 2>&1; then
    log "rabbitmq: node is up but AMQP does not answer yet; waiting"
  else
    log "rabbitmq: not answering on 127.0.0.1:5672; starting rabbitmq-server -detached"
    rabbitmq-server -detached >&2 2>&1 || true
  fi
  local start=$SECONDS
  printf 'rabbitmq: waiting up to %ss ' "$RABBIT_WAIT" >&2
  while ((SECONDS - start < RABBIT_WAIT)); do
    if amqp_answers; then
      log " up after $((SECONDS - start))s"
      return 0
    fi
    printf '.' >&2
    sleep 1
  done
  log ""
  log "rabbitmq: AMQP did not answer on 127.0.0.1:5672 within ${RABBIT_WAIT}s; look at /var/log/rabbitmq/ and 'rabbitmq-diagnostics status'"
  return 1
}

# ---- Kafka ---------------------------------------------------------------------------------
ensure_kafka() {
  "$ROOT/tooling/kafka/start-kafka.sh" >&2
}

# ---- main ----------------------------------------------------------------------------------
wanted=("$@")
((${#wanted[@]})) || wanted=(redis rabbitmq kafka)

failed=()
status=()
env_lines=()
for b in "${wanted[@]}"; do
  case "$b" in
    redis)
      if ensure_redis; then status+=("redis: ok (127.0.0.1:6379)"); env_lines+=("REDIS_URL=redis://127.0.0.1:6379")
      else failed+=(redis); status+=("redis: FAILED (127.0.0.1:6379)"); fi ;;
    rabbitmq)
      if ensure_rabbitmq; then status+=("rabbitmq: ok (127.0.0.1:5672)"); env_lines+=("AMQP_URL=amqp://***@127.0.0.1:5672")
      else failed+=(rabbitmq); status+=("rabbitmq: FAILED (127.0.0.1:5672)"); fi ;;
    kafka)
      if ensure_kafka; then status+=("kafka: ok (127.0.0.1:9092)"); env_lines+=("KAFKA_BROKERS=127.0.0.1:9092")
      else failed+=(kafka); status+=("kafka: FAILED (127.0.0.1:9092)"); fi ;;
    *) log "unknown broker '$b' (expected: redis rabbitmq kafka)"; exit 2 ;;
  esac
done

printf '%s\n' "${status[@]}"
if ((${#failed[@]})); then
  echo "ensure-brokers: ERROR: could not make these answer: ${failed[*]} (see messages above)" >&2
  exit 1
fi
printf '%s\n' "${env_lines[@]}"
