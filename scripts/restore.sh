#!/usr/bin/env bash
# Restore a backup into a NEW, empty database, then check it.
#   TARGET_URL=postgres://user@host:5432/defensores_restored scripts/restore.sh FILE
# The database must exist and be empty (createdb). Afterwards:
#   DATABASE_URL=$TARGET_URL python manage.py verify_audit
set -euo pipefail
: "${TARGET_URL:?set TARGET_URL to the empty database to restore into}"
file=${1:?give the backup file}
pg_restore --no-owner --exit-on-error --dbname "$TARGET_URL" "$file"
echo "restored $file"
