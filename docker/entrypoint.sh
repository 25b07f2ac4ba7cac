#!/bin/sh
# Container entrypoint: refuse unsafe secrets, wait for the database, optionally migrate,
# then replace this shell with the command (gunicorn by default) so it receives signals.
set -eu
here="$(dirname "$0")"

python "$here/preflight.py"

if [ "${CCR_MIGRATE_ON_START:-false}" = "true" ]; then
    echo "ccr-entrypoint: flask db upgrade" >&2
    flask db upgrade
fi

exec "$@"
