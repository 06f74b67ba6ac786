#!/usr/bin/env bash
# Installs the servers the tests run against, once: PostgreSQL and Redis from Debian's
# packages, Apache Kafka (KRaft) as jars from Maven Central on Java 17. Idempotent: what is
# already there is left alone, so a second run only checks.
#
#   scripts/test-servers/install.sh [postgres] [redis] [kafka]    # default: all three
#   scripts/test-servers/install.sh --kafka-home                  # prints the Kafka folder
#
# Kafka lands in ${CRYPTOVIZ_TEST_SERVERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cryptoviz-test-servers}
# as kafka-<version>/libs (Maven's own ~/.m2 keeps the downloads too). tests/servers.py
# reads the same folder.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
POM="$HERE/kafka/pom.xml"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")"
CACHE="${CRYPTOVIZ_TEST_SERVERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cryptoviz-test-servers}"
KAFKA_HOME="$CACHE/kafka-$KAFKA_VERSION"

if [ "${1:-}" = "--kafka-home" ]; then
    echo "$KAFKA_HOME"
    exit 0
fi

say() { echo "test-servers: $*" >&2; }

# Root installs directly; anyone else goes through sudo, non-interactively so a missing
# password fails at once instead of waiting for a prompt nobody sees.
if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo -n); fi
APT_UPDATED=0
apt_install() {
    if [ "$APT_UPDATED" -eq 0 ]; then
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        APT_UPDATED=1
    fi
    say "apt-get install $*"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

postgres_bindir() {
    local initdb
    initdb="$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)"
    if [ -n "$initdb" ]; then dirname "$initdb"; return 0; fi
    if command -v initdb >/dev/null; then dirname "$(command -v initdb)"; return 0; fi
    return 1
}

install_postgres() {
    if postgres_bindir >/dev/null; then
        say "postgresql: present ($(postgres_bindir))"
        return
    fi
    apt_install postgresql
    postgres_bindir >/dev/null || { say "postgresql: initdb not found after install"; exit 1; }
}

install_redis() {
    if command -v redis-server >/dev/null; then
        say "redis: present ($(command -v redis-server))"
        return
    fi
    apt_install redis-server
}

java_major() {
    java -version 2>&1 | sed -n 's/.*version "\([0-9]*\)[."].*/\1/p' | head -n 1
}

install_kafka() {
    if ! command -v java >/dev/null || [ "$(java_major)" -lt 17 ]; then
        apt_install openjdk-17-jre-headless
    fi
    if [ -f "$KAFKA_HOME/.complete" ]; then
        say "kafka $KAFKA_VERSION: present ($KAFKA_HOME)"
        return
    fi
    command -v mvn >/dev/null || apt_install maven
    say "kafka $KAFKA_VERSION: fetching jars from Maven Central into $KAFKA_HOME"
    mkdir -p "$CACHE"
    STAGING="$(mktemp -d "$CACHE/.kafka-$KAFKA_VERSION.XXXXXX")"
    trap 'rm -rf "$STAGING"' EXIT
    mvn -q -B -f "$POM" dependency:copy-dependencies \
        -Dstyle.color=never -DincludeScope=runtime -DoutputDirectory="$STAGING/libs" >&2
    touch "$STAGING/.complete"
    # The rename makes the folder appear whole or not at all; a run that lost the race to
    # another one keeps the other's copy.
    if [ ! -f "$KAFKA_HOME/.complete" ]; then
        rm -rf "$KAFKA_HOME"
        mv -T "$STAGING" "$KAFKA_HOME" 2>/dev/null || [ -f "$KAFKA_HOME/.complete" ]
    fi
    say "kafka $KAFKA_VERSION: $(ls "$KAFKA_HOME/libs" | wc -l) jars"
}

components=("$@")
[ "${#components[@]}" -gt 0 ] || components=(postgres redis kafka)
for component in "${components[@]}"; do
    case "$component" in
        postgres) install_postgres ;;
        redis) install_redis ;;
        kafka) install_kafka ;;
        *) say "unknown component '$component' (expected postgres, redis or kafka)"; exit 2 ;;
    esac
done
