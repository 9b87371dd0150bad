#!/bin/sh
# Entrypoint of the Docker image: optionally apply migrations, then run the command
# (gunicorn by default; `celery -A motcua worker|beat ...` for the background processes).
#   MIGRATE_ON_START=1  run `manage.py migrate --noinput` first. Use it on ONE process only
#                       (docker-compose.yml has a one-shot `migrate` service instead).
set -e

if [ "${MIGRATE_ON_START:-0}" = "1" ]; then
    echo "docker-entrypoint: applying migrations"
    python manage.py migrate --noinput
fi

exec "$@"
