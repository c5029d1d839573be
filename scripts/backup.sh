#!/usr/bin/env bash
# Back up the PostgreSQL database to one compressed, restorable file.
#   DATABASE_URL=postgres://user@host:5432/defensores scripts/backup.sh [FILE]
# Run daily (cron or a systemd timer); keep copies off the server, encrypted (e.g. age or
# gpg): the dump holds the encrypted fields' ciphertext but everything else in clear.
set -euo pipefail
: "${DATABASE_URL:?set DATABASE_URL to the database to back up}"
file=${1:-defensores-$(date -u +%Y%m%dT%H%M%SZ).dump}
pg_dump --format=custom --compress=9 --no-owner --file "$file" "$DATABASE_URL"
echo "$file"
