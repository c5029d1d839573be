#!/usr/bin/env bash
# Fuzz the API against its own OpenAPI schema with schemathesis, as an ally would call it:
# a fresh demo database, a real server, a valid key. Fails on any server error, any response
# that breaks the schema, or fewer than FUZZ_MIN_REQUESTS generated requests.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
WORK=$(mktemp -d)
PORT=$($BIN/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export DEBUG=1 DATABASE_URL="sqlite:///$WORK/fuzz.sqlite3" API_THROTTLE_RATE=1000000/minute \
    API_EXPORT_THROTTLE_RATE=1000000/minute API_FAILED_KEY_RATE=1000000/minute
MAX_EXAMPLES=${FUZZ_MAX_EXAMPLES:-100}
MIN_REQUESTS=${FUZZ_MIN_REQUESTS:-1000}

echo "==> Fuzz database in $WORK (migrate, demo data, an ally key)"
$BIN/python manage.py migrate --no-input -v 0
$BIN/python manage.py load_demo > /dev/null
KEY=$($BIN/python manage.py ally_key_create "Aliada de pruebas" --by coordinadora 2>/dev/null)

$BIN/python manage.py runserver "127.0.0.1:$PORT" --noreload > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 60); do
    curl -fsS -o /dev/null -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/api/v1/schema/" && break
    sleep 0.5
done

echo "==> schemathesis: every check, $MAX_EXAMPLES examples per operation and phase"
set +e
$BIN/st run "http://127.0.0.1:$PORT/api/v1/schema/" \
    --header "Authorization: Bearer $KEY" \
    --checks all --max-examples "$MAX_EXAMPLES" --workers 2 --seed "${FUZZ_SEED:-20211}" \
    --no-color | tee "$WORK/st.log"
STATUS=${PIPESTATUS[0]}
set -e
GENERATED=$(grep -oE '[0-9]+ generated' "$WORK/st.log" | tail -1 | grep -oE '[0-9]+' || echo 0)
SERVER_ERRORS=$(grep -cE '" 5[0-9][0-9] ' "$WORK/server.log" || true)
echo "==> $GENERATED generated requests, $SERVER_ERRORS server errors in the server log"
[ "$STATUS" -eq 0 ] || { echo "schemathesis found failures"; exit 1; }
[ "$SERVER_ERRORS" -eq 0 ] || { grep -E '" 5[0-9][0-9] ' "$WORK/server.log" | head; exit 1; }
[ "$GENERATED" -ge "$MIN_REQUESTS" ] || { echo "only $GENERATED requests (< $MIN_REQUESTS)"; exit 1; }
