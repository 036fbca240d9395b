#!/usr/bin/env bash
# Fetch (from Maven Central), configure and start a single-node Elasticsearch for tests and CI. Idempotent.
#
#   scripts/elasticsearch.sh            fetch if missing, start if not answering, wait until yellow
#   scripts/elasticsearch.sh --env      the same, then print:  export ARCHIVE_TEST_ELASTICSEARCH_URL=...
#   scripts/elasticsearch.sh --stop     stop the server this script started (found by its pidfile)
#
# The distribution is the integ-test zip (org.elasticsearch.distribution.integ-test-zip:elasticsearch:<v>:zip):
# no bundled JDK and almost no modules; see docs/elasticsearch.md for what it can and cannot do.
# Everything (zip, unpacked distribution, config, data, logs) lives under the cache dir, never in the repo.
# Only the --env line goes to stdout; all messages go to stderr.
#
# Environment (all optional):
#   ARCHIVE_ES_VERSION       server version                      (default 9.5.4)
#   ARCHIVE_ES_PORT          HTTP port on 127.0.0.1              (default 9200)
#   ARCHIVE_ES_JAVA_HOME     JDK that runs the server            (default /usr/lib/jvm/temurin-25-jdk-amd64)
#   ARCHIVE_ES_HEAP          -Xms/-Xmx                           (default 512m)
#   ARCHIVE_ES_WAIT_SECONDS  how long to wait for yellow health  (default 180)
#   ARCHIVE_ES_USER          unprivileged user when run as root  (default archive-es)
#   ARCHIVE_SERVICES_CACHE   cache root (default $XDG_CACHE_HOME or ~/.cache, /var/cache as root; + /order-archive)
set -euo pipefail
umask 022
exec 3>&1 1>&2 # stdout is reserved for the --env line

ES_VERSION=${ARCHIVE_ES_VERSION:-9.5.4}
ES_PORT=${ARCHIVE_ES_PORT:-9200}
ES_URL="http://127.0.0.1:${ES_PORT}"
ES_JAVA=${ARCHIVE_ES_JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
ES_HEAP=${ARCHIVE_ES_HEAP:-512m}
WAIT_SECONDS=${ARCHIVE_ES_WAIT_SECONDS:-180}
ES_USER=${ARCHIVE_ES_USER:-archive-es}
DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.6.1
ARTIFACT="org.elasticsearch.distribution.integ-test-zip:elasticsearch:${ES_VERSION}:zip"
CLUSTER=order-archive-test

IS_ROOT=false
[ "$(id -u)" -eq 0 ] && IS_ROOT=true
if [ -n "${ARCHIVE_SERVICES_CACHE:-}" ]; then
  CACHE=$ARCHIVE_SERVICES_CACHE
elif $IS_ROOT; then
  CACHE=/var/cache/order-archive # root's ~ is usually 0700: the unprivileged ES user could not reach it
else
  CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/order-archive"
fi
BASE="$CACHE/elasticsearch-${ES_VERSION}"
ZIP="$BASE/elasticsearch-${ES_VERSION}.zip"
ES_HOME="$BASE/elasticsearch-${ES_VERSION}"
NODE="$BASE/node-${ES_PORT}" # per port, so two servers (e.g. ARCHIVE_ES_PORT=9201) never share data or pidfile
CONF="$NODE/config"
DATA="$NODE/data"
LOGS="$NODE/logs"
RUN="$NODE/run"
TMPD="$NODE/tmp"
PIDFILE="$RUN/elasticsearch.pid"
LAUNCHER_PIDFILE="$RUN/launcher.pid"
LOGFILE="$LOGS/${CLUSTER}.log"
STARTUP_OUT="$LOGS/startup.out"

log() { echo "elasticsearch: $*" >&2; }
die() { log "$*"; exit 1; }

# Is an Elasticsearch answering on the port? Not `GET /`: the integ-test zip lacks the rest-root module, so `/` is a
# 405; every ES response carries the X-elastic-product header. Returns 2 if something else holds the port.
answering() {
  local headers
  headers=$(curl -sS -m 3 -o /dev/null -D - "$ES_URL/_cluster/health" 2>/dev/null) || true
  [ -n "$headers" ] || return 1
  grep -qi '^x-elastic-product: *elasticsearch' <<<"$headers" && return 0
  return 2
}

healthy() {
  curl -fsS -m 15 -o /dev/null "$ES_URL/_cluster/health?wait_for_status=yellow&timeout=10s" 2>/dev/null
}

server_version() {
  curl -fsS -m 3 "$ES_URL/_nodes/_local?filter_path=nodes.*.version" 2>/dev/null |
    sed -n 's/.*"version" *: *"\([^"]*\)".*/\1/p' | head -n 1
}

# Print the pid in file $1 if that process is alive and its command line contains $2.
live_pid() {
  [ -s "$1" ] || return 1
  local pid
  pid=$(tr -dc 0-9 <"$1")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$2" || return 1
  echo "$pid"
}
our_pid() { live_pid "$PIDFILE" org.elasticsearch; }         # the server (pidfile written by ES itself)
launcher_pid() { live_pid "$LAUNCHER_PIDFILE" "$ES_HOME/"; } # `elasticsearch -d`, still starting the server

show_log() {
  if [ -s "$STARTUP_OUT" ]; then
    log "launcher output ($STARTUP_OUT):"
    tail -n 20 "$STARTUP_OUT" >&2
  fi
  if [ -s "$LOGFILE" ]; then
    log "last 50 lines of $LOGFILE:"
    tail -n 50 "$LOGFILE" >&2
  elif [ ! -s "$STARTUP_OUT" ]; then
    log "no log written (looked for $LOGFILE and $STARTUP_OUT)"
  fi
}

fetch() {
  [ -s "$ZIP" ] && return 0
  command -v mvn >/dev/null || die "mvn not found: needed to fetch $ARTIFACT"
  log "fetching $ARTIFACT from Maven Central"
  local work
  work=$(mktemp -d)
  # Run from an empty dir (no pom in sight), with a private local repository under the cache so a wiped cache
  # means a real fetch and the 130 MB zip is not also kept in ~/.m2. settings.xml (mirrors, proxies) still applies.
  # -U: retry even if an earlier attempt failed (Maven caches failures for a day). No -C (strict checksums): the
  # .pom/.zip checksums are not always served here; unzip -t checks the CRCs instead.
  local t0=$SECONDS
  if ! (cd "$work" && mvn -B -q -U -Dstyle.color=never -Dmaven.repo.local="$CACHE/m2" "$DEP_PLUGIN:copy" \
    -Dartifact="$ARTIFACT" -DoutputDirectory="$work/out" -Dmdep.overWriteReleases=true) >"$work/mvn.log" 2>&1; then
    sed 's/\x1b\[[0-9;]*m//g' "$work/mvn.log" | grep -v '^$' | tail -n 20 >&2
    rm -rf "$work"
    die "could not fetch $ARTIFACT (is version $ES_VERSION on Maven Central?)"
  fi
  if ! unzip -tq "$work/out/elasticsearch-${ES_VERSION}.zip" >/dev/null; then
    rm -rf "$work"
    die "downloaded zip is corrupt"
  fi
  mkdir -p "$BASE"
  mv "$work/out/elasticsearch-${ES_VERSION}.zip" "$ZIP.part"
  mv "$ZIP.part" "$ZIP"
  rm -rf "$work" "$CACHE/m2/org/elasticsearch/distribution/integ-test-zip/elasticsearch/${ES_VERSION}"
  log "fetched in $((SECONDS - t0))s"
}

unpack() {
  [ -x "$ES_HOME/bin/elasticsearch" ] && return 0
  command -v unzip >/dev/null || die "unzip not found (apt-get install unzip)"
  log "unpacking $ZIP"
  rm -rf "$BASE/.unpack"
  unzip -q "$ZIP" -d "$BASE/.unpack"
  rm -rf "$ES_HOME"
  mv "$BASE/.unpack/elasticsearch-${ES_VERSION}" "$ES_HOME"
  rmdir "$BASE/.unpack"
}

configure() {
  mkdir -p "$CONF" "$DATA" "$LOGS" "$RUN" "$TMPD"
  # Fresh copies of the stock files each start (the keystore ES creates in $CONF is kept); GC and crash logs go to
  # $LOGS instead of the distribution dir the launcher cds into.
  local f
  for f in "$ES_HOME"/config/*; do [ -e "$CONF/${f##*/}" ] || cp -r "$f" "$CONF/"; done
  sed -e "s#file=gc\.log#file=${LOGS}/gc.log#" -e "s#ErrorFile=hs_err#ErrorFile=${LOGS}/hs_err#" \
    "$ES_HOME/config/jvm.options" >"$CONF/jvm.options"
  {
    echo "# Written by scripts/elasticsearch.sh on every start; edits are lost."
    echo "cluster.name: ${CLUSTER}"
    echo "node.name: ${CLUSTER}-1"
    echo "path.data: ${DATA}"
    echo "path.logs: ${LOGS}"
    echo "network.host: 127.0.0.1"
    echo "http.port: ${ES_PORT}"
    echo "discovery.type: single-node"
    # CI disks are often nearly full: without this, indices turn read-only at the flood-stage watermark.
    echo "cluster.routing.allocation.disk.threshold_enabled: false"
    # The integ-test zip ships x-pack-security (security would be on, with TLS and passwords); plain HTTP here.
    if [ -d "$ES_HOME/modules/x-pack-security" ]; then echo "xpack.security.enabled: false"; fi
  } >"$CONF/elasticsearch.yml"
}

ensure_user() {
  $IS_ROOT || return 0
  if ! id -u "$ES_USER" >/dev/null 2>&1; then
    log "creating system user $ES_USER (Elasticsearch refuses to run as root)"
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$ES_USER"
  fi
  local d
  for d in "$ES_HOME" "$CONF" "$DATA" "$LOGS" "$RUN" "$TMPD"; do
    [ "$(stat -c %U "$d")" = "$ES_USER" ] || chown -R "$ES_USER:" "$d"
  done
  # Files ES writes inside dirs it already owns may have been added by root (e.g. a new stock config file).
  chown -R "$ES_USER:" "$CONF"
  runuser -u "$ES_USER" -- test -r "$ES_HOME/bin/elasticsearch" -a -w "$DATA" ||
    die "user $ES_USER cannot reach $BASE; set ARCHIVE_SERVICES_CACHE to a path it can traverse"
}

LAUNCHER_PID=
STARTED_HERE=false # set once our `elasticsearch -d` has returned successfully
start() {
  [ -x "$ES_JAVA/bin/java" ] || die "no JDK at $ES_JAVA (set ARCHIVE_ES_JAVA_HOME)"
  configure
  ensure_user
  rm -f "$PIDFILE"
  : >"$STARTUP_OUT"
  local run=()
  $IS_ROOT && run=(runuser -u "$ES_USER" --)
  log "starting Elasticsearch ${ES_VERSION} on ${ES_URL} (heap ${ES_HEAP}, files in ${NODE})"
  # -d daemonizes once the node has started; the launcher runs in the background so the wait below stays bounded.
  # fd 9 (the lock) is closed so the server does not hold it.
  (cd "$LOGS" && exec "${run[@]}" env -u JAVA_HOME \
    ES_JAVA_HOME="$ES_JAVA" ES_PATH_CONF="$CONF" ES_TMPDIR="$TMPD" \
    ES_JAVA_OPTS="-Xms${ES_HEAP} -Xmx${ES_HEAP} -XX:HeapDumpPath=${LOGS}" \
    "$ES_HOME/bin/elasticsearch" -d -p "$PIDFILE") >>"$STARTUP_OUT" 2>&1 9>&- </dev/null &
  LAUNCHER_PID=$!
  echo "$LAUNCHER_PID" >"$LAUNCHER_PIDFILE"
}

wait_healthy() {
  local deadline=$((SECONDS + WAIT_SECONDS)) rc
  while [ $SECONDS -lt $deadline ]; do
    if [ -n "$LAUNCHER_PID" ] && ! kill -0 "$LAUNCHER_PID" 2>/dev/null; then
      rc=0
      wait "$LAUNCHER_PID" || rc=$?
      LAUNCHER_PID=
      if [ "$rc" -ne 0 ]; then
        show_log
        die "Elasticsearch failed to start (launcher exit code $rc)"
      fi
      STARTED_HERE=true
    fi
    if $STARTED_HERE && ! our_pid >/dev/null; then
      show_log
      die "Elasticsearch exited right after starting"
    fi
    healthy && return 0
    sleep 1
  done
  show_log
  die "Elasticsearch did not reach yellow health on ${ES_URL} within ${WAIT_SECONDS}s"
}

stop() {
  local pid
  for _ in $(seq 1 "$WAIT_SECONDS"); do # a start in progress: let `elasticsearch -d` finish first
    launcher_pid >/dev/null || break
    sleep 1
  done
  if ! pid=$(our_pid); then
    rm -f "$PIDFILE"
    if answering; then
      log "something answers on ${ES_URL} but it was not started from ${NODE}; leaving it alone"
    else
      log "not running"
    fi
    return 0
  fi
  log "stopping Elasticsearch (pid $pid)"
  kill -TERM "$pid"
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$PIDFILE"; log "stopped"; return 0; }
    sleep 1
  done
  log "still running after 60s; killing pid $pid"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PIDFILE"
}

up() {
  local v rc=0
  answering || rc=$?
  [ "$rc" -ne 2 ] || die "${ES_URL} is taken by something that is not Elasticsearch (set ARCHIVE_ES_PORT)"
  if [ "$rc" -eq 0 ]; then
    v=$(server_version)
    [ "$v" = "$ES_VERSION" ] || log "note: ${ES_URL} answers with version ${v:-unknown}, not ${ES_VERSION}"
  else
    mkdir -p "$BASE"
    exec 9>"$BASE/.lock"
    flock 9 # one fetch/start at a time (e.g. make -j)
    rc=0
    answering || rc=$?
    if [ "$rc" -ne 0 ] && ! our_pid >/dev/null && ! launcher_pid >/dev/null; then
      fetch
      unpack
      start
    else
      log "already running or starting; waiting"
    fi
    exec 9>&-
  fi
  wait_healthy
  log "ready at ${ES_URL} (${SECONDS}s)"
}

case "${1:-}" in
  --env)
    up
    echo "export ARCHIVE_TEST_ELASTICSEARCH_URL=${ES_URL}" >&3
    ;;
  --stop) stop ;;
  "") up ;;
  *) die "usage: $0 [--env|--stop]" ;;
esac
