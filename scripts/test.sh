#!/usr/bin/env bash
# Runs the whole suite once on SQLite and once on PostgreSQL, against the services scripts/services.sh started.
# The search contract tests touch no database, so they run in the SQLite pass only. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/services.sh --env)"
export ARCHIVE_TEST_POSTGRES_URL ARCHIVE_TEST_ELASTICSEARCH_URL ARCHIVE_TEST_REDIS_URL
status=0
ARCHIVE_TEST_DB=sqlite .venv/bin/pytest "$@" || status=$?
ARCHIVE_TEST_DB=postgres .venv/bin/pytest --ignore=tests/contract "$@" || status=$?
exit $status
