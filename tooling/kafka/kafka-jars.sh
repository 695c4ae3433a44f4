#!/usr/bin/env bash
# Make sure the Kafka broker's jars (pom.xml) are on this machine, and print their directory.
# The first run fetches them from Maven Central (Maven caches them in ~/.m2); later runs print
# the cached directory at once. Used by start-kafka.sh and by tests that run a broker of their
# own (packages/bus-kafka/test/support/private-kafka.ts): `java -cp "$(kafka-jars.sh)/*" ...`.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="${KAFKA_STATE_DIR:-/var/tmp/eventsource-kafka}"

die() { echo "kafka: ERROR: $*" >&2; exit 1; }

command -v java >/dev/null || die "java not found (Kafka 4 needs Java 17+; apt-get install -y openjdk-17-jre-headless)"
mkdir -p "$STATE"

# The directory is named for the pom's content, so a changed pom fetches anew.
POM_HASH="$(sha1sum "$HERE/pom.xml" | cut -c1-12)"
JARS="$STATE/jars-$POM_HASH"
if [[ ! -f "$JARS/.complete" ]]; then
  # One fetch at a time; its own lock, since start-kafka.sh calls this while holding its lock.
  exec 8>"$STATE/.jars.lock"
  flock -w 600 8 || die "another fetch holds $STATE/.jars.lock for more than 600 s"
  if [[ ! -f "$JARS/.complete" ]]; then
    command -v mvn >/dev/null || die "mvn not found (needed once to fetch the Kafka jars from Maven Central; apt-get install -y maven)"
    echo "kafka: fetching jars from Maven Central into $JARS (first run only) ..." >&2
    rm -rf "$JARS"
    if ! mvn -q -B -f "$HERE/pom.xml" dependency:copy-dependencies -DoutputDirectory="$JARS" >"$STATE/mvn.log" 2>&1; then
      tail -n 30 "$STATE/mvn.log" >&2 || true
      die "mvn dependency:copy-dependencies failed; see $STATE/mvn.log"
    fi
    touch "$JARS/.complete"
  fi
fi
echo "$JARS"
