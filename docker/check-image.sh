#!/usr/bin/env bash
# Check a scheduler-server image by running it (as docker/Dockerfile makes it: any base):
#
#   docker/check-image.sh TAG          # e.g. TAG=$(docker/build-local.sh | tail -n 1)
#
# One line per check, `ok` or `FAIL`; exits non-zero if any failed:
#   - the image's configured user is not root, and no process of the container runs as uid 0
#     (`docker top`: ps on the daemon's host, so no shell or `id` is needed in the image);
#   - GET /health answers 200 on a port published on 127.0.0.1;
#   - the image's HEALTHCHECK turns the container `healthy`;
#   - `docker stop` ends the server (PID 1) with exit code 0 (SIGTERM handled);
#   - the SQLite default persists on a named volume: a key made with `scheduler-server keys
#     create` in the container, a job created with it over the published port, the container
#     stopped and removed, a new one started on the same volume, the job read back with the key;
#   - the image's size is reported (and checked against MAX_IMAGE_MB if set).
# Every wait is bounded; the containers and the volume it makes are removed on exit.
#
# Environment: DOCKER (client; default /usr/bin/docker if present, else docker),
# MAX_IMAGE_MB (fail above this size; default: no limit), WAIT_SECONDS (bound of each wait for
# the server, default 30; the health status gets twice that).
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 IMAGE_TAG" >&2
    exit 2
fi
image=$1
if [ -z "${DOCKER:-}" ]; then
    if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi
fi
wait_seconds=${WAIT_SECONDS:-30}
name=scheduler-check-$$
volume=scheduler-check-$$-data
failed=0

ok() { echo "check-image: ok   $*"; }
fail() { echo "check-image: FAIL $*"; failed=1; }
info() { echo "check-image: $*" >&2; }

log_file=$(mktemp)
cleanup() {
    rm -f "$log_file"
    "$DOCKER" rm -f "$name" >/dev/null 2>&1 || true
    "$DOCKER" volume rm "$volume" >/dev/null 2>&1 || true
}
trap cleanup EXIT

"$DOCKER" image inspect "$image" >/dev/null 2>&1 || { echo "check-image: no image $image" >&2; exit 1; }

# Container logs on stderr after a failure, for whoever reads the CI log.
show_logs() {
    info "last lines of $name's log:"
    "$DOCKER" logs --tail 30 "$name" >&2 2>&1 || true
}

# Starts the server on the volume, publishes 8000 on a free 127.0.0.1 port (in $port).
start() {
    "$DOCKER" run -d --name "$name" -v "$volume:/data" -p 127.0.0.1::8000 "$image" >/dev/null
    port=$("$DOCKER" port "$name" 8000/tcp 2>/dev/null | sed -n 's/^127\.0\.0\.1:\([0-9]*\)$/\1/p' | head -n 1)
    [ -n "$port" ] || { fail "no port published for 8000/tcp"; return 1; }
}

# Waits (bounded) until GET /health answers; prints the last status (000: no answer).
health_status() {
    local status=000
    for _ in $(seq 1 "$wait_seconds"); do
        status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/health" || true)
        [ "$status" = 200 ] && break
        sleep 1
    done
    echo "$status"
}

"$DOCKER" volume create "$volume" >/dev/null

# 1. non-root: the image's configuration, then the running process.
user=$("$DOCKER" image inspect -f '{{.Config.User}}' "$image")
case "${user%%:*}" in
    "" | 0 | root) fail "non-root user: image Config.User is '${user}' (root)" ;;
    *) ok "non-root user: image Config.User is '$user'" ;;
esac

start || { show_logs; exit 1; }
# `docker top` runs ps where the daemon runs (also behind Docker Desktop's VM), no exec needed.
top=$("$DOCKER" top "$name" -o uid,pid,args 2>/dev/null | awk 'NR > 1' || true)
uid=$(printf '%s\n' "$top" | awk 'NR == 1 { print $1 }')
if [ -z "$uid" ]; then
    fail "non-root process: none (container state: $("$DOCKER" inspect -f '{{.State.Status}}' "$name"))"
elif printf '%s\n' "$top" | awk '$1 == 0 || $1 == "root" { found = 1 } END { exit !found }'; then
    fail "non-root process: runs as root: $(printf '%s' "$top" | tr -s ' \n' ' ')"
else
    ok "non-root process: uid $uid, PID $(printf '%s\n' "$top" | awk 'NR == 1 { $1 = ""; print substr($0, 2) }')"
fi

# 2. /health over the published port.
started=$SECONDS
status=$(health_status)
if [ "$status" = 200 ]; then
    ok "GET http://127.0.0.1:$port/health: 200 after $(( SECONDS - started )) s"
else
    fail "GET http://127.0.0.1:$port/health: $status after ${wait_seconds} s"
    show_logs
fi

# 3. The image's HEALTHCHECK (first probe after its interval, 10 s).
started=$SECONDS
health=none
for _ in $(seq 1 $(( 2 * wait_seconds ))); do
    health=$("$DOCKER" inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$name")
    case $health in healthy | unhealthy | none) break ;; esac
    sleep 1
done
if [ "$health" = healthy ]; then
    ok "HEALTHCHECK: healthy after $(( SECONDS - started )) s more"
else
    fail "HEALTHCHECK: '$health' after $(( SECONDS - started )) s more"
    "$DOCKER" inspect -f \
        '{{if .State.Health}}{{range .State.Health.Log}}{{.ExitCode}} {{.Output}}{{end}}{{end}}' \
        "$name" >&2 || true
fi

# 4. Persistence of the SQLite default across containers on one named volume. The published
# port is not loopback to the server (SCHEDULER_AUTH=auto), so it needs a key, as README says.
# Each step sets $why when it fails.
key='' location='' why=''
create_job() {
    local headers code
    # The key alone on stdout; the command's log (stderr) only if it fails.
    if ! key=$("$DOCKER" exec "$name" scheduler-server keys create --tenant default --scope admin \
        --name check-image 2>"$log_file"); then
        why="keys create failed in the container: $(tail -n 3 "$log_file" | tr '\n' ' ')"
        return 1
    fi
    if ! headers=$(curl -s --max-time 10 -o /dev/null -D - -H "Authorization: Bearer $key" \
        -H 'Content-Type: application/json' "http://127.0.0.1:$port/scheduler/jobs/" \
        -d '{"name": "persist-check", "cron_expression": "0 9 * * 1", "parameters": {}}'); then
        why="POST /scheduler/jobs/ did not answer"
        return 1
    fi
    code=$(printf '%s\n' "$headers" | sed -n '1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p')
    location=$(printf '%s\n' "$headers" | tr -d '\r' | sed -n 's/^[Ll]ocation: *//p' | head -n 1)
    if [ "$code" != 201 ] || [ -z "$location" ]; then
        why="POST /scheduler/jobs/ answered ${code:-nothing} (Location: '$location')"
        return 1
    fi
}
read_job() {
    local body code
    "$DOCKER" rm "$name" >/dev/null
    start || { why="the new container did not start"; return 1; }
    [ "$(health_status)" = 200 ] || { why="the new container's /health did not answer 200"; return 1; }
    # The Location may be absolute (with the old port) or a path: keep the path.
    location=http://127.0.0.1:$port$(printf '%s' "$location" | sed 's#^https\{0,1\}://[^/]*##')
    if ! body=$(curl -s --max-time 10 -w '\n%{http_code}' -H "Authorization: Bearer $key" "$location")
    then
        why="GET $location did not answer"
        return 1
    fi
    code=${body##*$'\n'}
    body=${body%$'\n'*}
    if [ "$code" != 200 ] || ! printf '%s' "$body" | grep -q '"name": *"persist-check"'; then
        why="GET $location in the new container answered $code: ${body:0:200}"
        return 1
    fi
}
if create_job; then
    # Stopped as an orchestrator does (SIGTERM, then SIGKILL after 20 s): the server is PID 1.
    started=$SECONDS
    "$DOCKER" stop -t 20 "$name" >/dev/null
    exit_code=$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$name")
    if [ "$exit_code" = 0 ]; then
        ok "docker stop (SIGTERM to PID 1): exit 0 after $(( SECONDS - started )) s"
    else
        fail "docker stop (SIGTERM to PID 1): exit $exit_code after $(( SECONDS - started )) s"
        show_logs
    fi
    if read_job; then
        job=${location#*/scheduler/jobs/}
        ok "SQLite on a named volume survives the container: job ${job%/} and the key read back" \
            "from a new container on volume $volume"
    else
        fail "SQLite on a named volume survives the container: $why"
        show_logs
    fi
else
    fail "SQLite on a named volume survives the container: $why"
    show_logs
fi

# 5. Size.
size=$("$DOCKER" image inspect -f '{{.Size}}' "$image")
size_mb=$(( (size + 500000) / 1000000 ))
if [ -n "${MAX_IMAGE_MB:-}" ] && [ "$size_mb" -gt "$MAX_IMAGE_MB" ]; then
    fail "image size: $size_mb MB ($size bytes), above MAX_IMAGE_MB=$MAX_IMAGE_MB"
else
    ok "image size: $size_mb MB ($size bytes)${MAX_IMAGE_MB:+, at most $MAX_IMAGE_MB MB}"
fi

if [ "$failed" = 0 ]; then
    echo "check-image: all checks passed for $image"
else
    echo "check-image: some checks FAILED for $image"
fi
exit "$failed"
