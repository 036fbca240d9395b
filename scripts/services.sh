#!/usr/bin/env bash
# Install and start the services the tests need: PostgreSQL (Debian packages) and Elasticsearch (Maven Central,
# scripts/elasticsearch.sh). Idempotent: run it as often as you like.
# Prints the environment the tests read, e.g.  eval "$(scripts/services.sh --env)".
set -euo pipefail

PG_USER=archive
PG_PASSWORD=archive
PG_PORT=${ARCHIVE_PG_PORT:-5432}
PG_URL="postgresql+psycopg://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${PG_PORT}/postgres"

log() { echo "services: $*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root for: $*"; return 1; fi
}

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

start_postgres() {
  apt_install postgresql postgresql-contrib libmagic1
  local version
  version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
  if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^${version} main$"; then
    as_root pg_createcluster "$version" main --port "$PG_PORT" >/dev/null
  fi
  if ! pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $4}' | grep -q online; then
    log "starting PostgreSQL $version"
    as_root pg_ctlcluster "$version" main start
  fi
  for _ in $(seq 1 60); do
    as_root su postgres -c "psql -p $PG_PORT -Atqc 'select 1'" >/dev/null 2>&1 && break
    sleep 0.5
  done
  as_root su postgres -c "psql -p $PG_PORT -Atqc \"select 1 from pg_roles where rolname='${PG_USER}'\"" | grep -q 1 ||
    as_root su postgres -c "psql -p $PG_PORT -qc \"create role ${PG_USER} login createdb password '${PG_PASSWORD}'\""
  # Tests drop their databases WITH (FORCE); that may have to end an autovacuum worker, which needs this.
  as_root su postgres -c "psql -p $PG_PORT -qc 'grant pg_signal_backend to ${PG_USER}'" >/dev/null
}

here=$(cd "$(dirname "$0")" && pwd)
case "${1:-}" in
  --env)
    echo "export ARCHIVE_TEST_POSTGRES_URL='${PG_URL}'"
    bash "$here/elasticsearch.sh" --env
    ;;
  *)
    start_postgres
    log "PostgreSQL ready at ${PG_URL}"
    bash "$here/elasticsearch.sh"
    ;;
esac
