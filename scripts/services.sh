#!/usr/bin/env bash
# Install and start the services the tests need: PostgreSQL and Redis (Debian packages), Elasticsearch (Maven Central,
# scripts/elasticsearch.sh), and the OCR tools (Tesseract eng/fra/deu, Ghostscript, qpdf). Idempotent: run it as often
# as you like.
# Prints the environment the tests read, e.g.  eval "$(scripts/services.sh --env)".
set -euo pipefail

PG_USER=archive
PG_PASSWORD=archive
PG_PORT=${ARCHIVE_PG_PORT:-5432}
PG_URL="postgresql+psycopg://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${PG_PORT}/postgres"
REDIS_PORT=${ARCHIVE_REDIS_PORT:-6379}
REDIS_URL="redis://127.0.0.1:${REDIS_PORT}/0"

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
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
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

start_redis() {
  apt_install redis-server
  if redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then return 0; fi
  log "starting Redis on port $REDIS_PORT"
  # Started directly (no systemd in containers); bound to loopback, persistence off: it only carries wake-ups.
  as_root redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
    --logfile /tmp/archive-redis.log
  for _ in $(seq 1 40); do
    redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.25
  done
  log "Redis did not answer on port $REDIS_PORT"; return 1
}

install_ocr_tools() {
  # OCRmyPDF (pip) drives these: Tesseract with the languages we read, Ghostscript for PDF/A, qpdf, pngquant, unpaper.
  apt_install tesseract-ocr tesseract-ocr-eng tesseract-ocr-fra tesseract-ocr-deu ghostscript qpdf pngquant \
    unpaper fonts-dejavu-core
}

here=$(cd "$(dirname "$0")" && pwd)
case "${1:-}" in
  --env)
    echo "export ARCHIVE_TEST_POSTGRES_URL='${PG_URL}'"
    echo "export ARCHIVE_TEST_REDIS_URL='${REDIS_URL}'"
    bash "$here/elasticsearch.sh" --env
    ;;
  *)
    start_postgres
    log "PostgreSQL ready at ${PG_URL}"
    start_redis
    log "Redis ready at ${REDIS_URL}"
    install_ocr_tools
    bash "$here/elasticsearch.sh"
    ;;
esac
