#!/usr/bin/env bash
# Builds the three test-broker images locally, pulling nothing from any image registry:
#
#   eval "$(bash tooling/containers/build-images.sh)"   # build (or confirm), then use them
#
# 1. installs Debian's docker.io and debootstrap if missing, and starts dockerd in the
#    background when no engine answers (these machines have no systemd);
# 2. makes a Debian bookworm base image with debootstrap, from the mirror in the machine's apt
#    sources, and imports it (skipped when the image exists);
# 3. builds Redis, RabbitMQ (with management) and Kafka 4.4.0 (the jars tooling/kafka/pom.xml
#    lists, from ~/.m2 or Maven Central) on it. Docker's layer cache makes a rebuild a cache hit.
#
# Progress goes to stderr. Stdout is only `export` lines: the image names for tooling/brokers
# (EVENTSOURCE_*_IMAGE) and the testcontainers settings these machines need.
#
# Environment:
#   EVENTSOURCE_IMAGE_PREFIX      image name prefix (default eventsource-local)
#   EVENTSOURCE_CONTAINERS_STATE  work directory (default /var/tmp/eventsource-containers)
#   DEBIAN_MIRROR                 overrides the mirror read from the apt sources
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PREFIX="${EVENTSOURCE_IMAGE_PREFIX:-eventsource-local}"
STATE="${EVENTSOURCE_CONTAINERS_STATE:-/var/tmp/eventsource-containers}"
BASE_IMAGE="$PREFIX/debian:bookworm"
REDIS_IMAGE="$PREFIX/redis:7"
RABBITMQ_IMAGE="$PREFIX/rabbitmq:3-management"
KAFKA_IMAGE="$PREFIX/kafka:4.4.0"
DOCKERD_LOG="$STATE/dockerd.log"

log() { echo "containers: $*" >&2; }
die() { echo "containers: ERROR: $*" >&2; exit 1; }
elapsed() { echo "$((SECONDS - $1))s"; }
mkdir -p "$STATE"
exec 9>"$STATE/.lock"
flock -w 900 9 || die "another build-images.sh holds $STATE/.lock for more than 15 minutes"
t_all=$SECONDS

# ---- 1. a Docker engine ----------------------------------------------------------------------
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
if ((${#need[@]})); then
  [[ $EUID -eq 0 ]] || die "missing ${need[*]}; install them as root: apt-get install -y --no-install-recommends ${need[*]}"
  log "installing ${need[*]} from Debian"
  t=$SECONDS
  if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"; } >"$STATE/apt.log" 2>&1; then
    tail -n 30 "$STATE/apt.log" >&2
    die "apt-get install ${need[*]} failed; see $STATE/apt.log"
  fi
  log "installed in $(elapsed $t)"
fi

engine_answers() { timeout 5 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
if ! engine_answers; then
  if [[ -n "${DOCKER_HOST:-}" ]]; then
    die "DOCKER_HOST=$DOCKER_HOST does not answer; start that engine, or unset DOCKER_HOST to use a local dockerd"
  fi
  [[ $EUID -eq 0 ]] || die "no Docker engine answers and starting dockerd needs root"
  log "no Docker engine answers; starting dockerd in the background (log $DOCKERD_LOG)"
  # setsid + closed fd 9: the engine outlives this script and does not hold its lock.
  setsid nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null 9>&- &
  for ((i = 0; i < 60; i++)); do
    engine_answers && break
    sleep 0.5
  done
  engine_answers || { tail -n 30 "$DOCKERD_LOG" >&2; die "dockerd did not answer within 30 s; see $DOCKERD_LOG"; }
fi
log "engine: Docker $(docker version --format '{{.Server.Version}}' 2>/dev/null)"

# ---- 2. the base image -------------------------------------------------------------------------
debian_mirror() {
  if [[ -n "${DEBIAN_MIRROR:-}" ]]; then echo "$DEBIAN_MIRROR"; return; fi
  local uri=""
  # deb822 sources first (bookworm's default), then the one-line format.
  if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
    uri="$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' /etc/apt/sources.list.d/*.sources)"
  fi
  if [[ -z "$uri" && -f /etc/apt/sources.list ]]; then
    uri="$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)"
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  log "base: $BASE_IMAGE exists"
else
  [[ $EUID -eq 0 ]] || die "debootstrap needs root"
  mirror="$(debian_mirror)"
  rootfs="$STATE/rootfs-bookworm"
  log "base: debootstrap --variant=minbase bookworm from $mirror (about a minute)"
  t=$SECONDS
  rm -rf "$rootfs"
  if ! debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$STATE/debootstrap.log" 2>&1; then
    tail -n 30 "$STATE/debootstrap.log" >&2
    die "debootstrap failed; see $STATE/debootstrap.log (set DEBIAN_MIRROR to another mirror)"
  fi
  # Smaller layers: no package lists or caches in the base.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
  tar -C "$rootfs" -c . | docker import --change 'CMD ["bash"]' --change 'ENV LANG=C.UTF-8' - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
  log "base: $BASE_IMAGE built in $(elapsed $t)"
fi

# ---- 3. the broker images ----------------------------------------------------------------------
build() {
  local image="$1" context="$2" t=$SECONDS
  # Legacy builder (no buildx here): DOCKER_BUILDKIT=0 avoids its deprecation notice.
  if ! DOCKER_BUILDKIT=0 docker build --build-arg "BASE=$BASE_IMAGE" -t "$image" "$context" >"$STATE/build-${image//[\/:]/_}.log" 2>&1; then
    tail -n 40 "$STATE/build-${image//[\/:]/_}.log" >&2
    die "docker build of $image failed; see $STATE/build-${image//[\/:]/_}.log"
  fi
  local cached=""
  grep -q 'Running in' "$STATE/build-${image//[\/:]/_}.log" || cached=" (all layers cached)"
  log "image: $image in $(elapsed $t)$cached"
}

# Kafka's build context: this folder's files plus the jars. The jars are copied only when the
# pom changes, with their timestamps, so the COPY layer stays cached.
kafka_context() {
  local pom="$ROOT/tooling/kafka/pom.xml" hash ctx
  hash="$(sha1sum "$pom" | cut -c1-12)"
  ctx="$STATE/kafka-context"
  if [[ ! -f "$ctx/jars/.pom-$hash" ]]; then
    command -v mvn >/dev/null || die "mvn is needed once to fetch the Kafka jars (apt-get install maven)"
    log "kafka: fetching the jars of tooling/kafka/pom.xml (from ~/.m2, else Maven Central)"
    rm -rf "$ctx/jars"
    mkdir -p "$ctx/jars"
    if ! mvn -q -B -f "$pom" dependency:copy-dependencies -DoutputDirectory="$ctx/jars" >"$STATE/mvn.log" 2>&1; then
      tail -n 30 "$STATE/mvn.log" >&2
      die "mvn dependency:copy-dependencies failed; see $STATE/mvn.log"
    fi
    touch -d '2000-01-01' "$ctx/jars"/*.jar
    touch "$ctx/jars/.pom-$hash"
  fi
  cp -p "$HERE"/kafka/Dockerfile "$HERE"/kafka/*.sh "$HERE"/kafka/*.xml "$ctx/"
  printf 'jars/.pom-*\n' >"$ctx/.dockerignore"
  echo "$ctx"
}

build "$REDIS_IMAGE" "$HERE/redis"
build "$RABBITMQ_IMAGE" "$HERE/rabbitmq"
build "$KAFKA_IMAGE" "$(kafka_context)"
log "done in $(elapsed $t_all)"

cat <<EOF
export EVENTSOURCE_REDIS_IMAGE=$REDIS_IMAGE
export EVENTSOURCE_RABBITMQ_IMAGE=$RABBITMQ_IMAGE
export EVENTSOURCE_KAFKA_IMAGE=$KAFKA_IMAGE
export TESTCONTAINERS_RYUK_DISABLED=true
export TESTCONTAINERS_HOST_OVERRIDE=localhost
EOF
