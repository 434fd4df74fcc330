#!/usr/bin/env bash
# Property-based fuzzing of the REST API with Schemathesis, driven by the server's own OpenAPI
# document, against an embedded SQLite server and a PostgreSQL server (a fresh database each,
# dropped afterwards). Traffic goes to 127.0.0.1 only (the server's own outgoing job requests go to
# a dead loopback proxy); every run is bounded in examples and time.
#
#   bash bench/fuzz-api.sh                                   # both backends, target/debug binary
#   SERVER_BIN=/path/to/scheduler-server FUZZ_MAX_EXAMPLES=100 FUZZ_STRICT=1 bash bench/fuzz-api.sh
#   FUZZ_BACKENDS=sqlite bash bench/fuzz-api.sh              # one backend only
#
# Fails (exit 1) on:
#   - any 5xx answer            (schemathesis check `not_a_server_error`, and `status=5xx` in the log)
#   - any response that violates its declared schema  (check `response_schema_conformance`)
#   - a panic in the server log, a dropped/refused/timed-out connection (schemathesis
#     "Network Error" / "Server Unavailable"), a server that died, an incomplete or crashed run.
# Every other check failure (positive_data_acceptance, negative_data_rejection,
# status_code_conformance, unsupported_method, ...) and every other schemathesis error is
# listed in the summary, and fails the script only with FUZZ_STRICT=1. Exit 2: a setup error.
# Outputs per backend in $FUZZ_OUT/<backend>/: st.out, server.log, events.ndjson, report.json,
# junit.xml, and summary.json (every finding with its smallest reproducing curl command).
#
# How: `st run --checks all` runs every check in ONE run; the split into "hard" and "soft" is made
# afterwards from the run's NDJSON event stream (`--report ndjson`), whose ScenarioFinished events
# carry, for each test case, every check's name and status, the failure's operation and message, and
# the request/response pair. The JSON report (`--report json`) gives the run-level errors and
# whether the run completed; a JUnit file is written too for CI viewers.
#
# Environment (defaults in brackets):
#   SERVER_BIN          server binary [target/debug/scheduler-server; built with cargo only if that
#                       default is missing]
#   FUZZ_BACKENDS       "sqlite postgres" [both]
#   FUZZ_MAX_EXAMPLES   examples per operation and phase [50: ~20 s per backend on 2 cores]
#   FUZZ_TIMEOUT        hard bound in seconds for one backend's schemathesis run [150]
#   FUZZ_SEED           seed of the run, the same for every backend [random; printed]
#   FUZZ_WORKERS        schemathesis workers [1]
#   FUZZ_STRICT         1: every check failure and error fails the script [0]
#   FUZZ_RUST_BACKTRACE the server's RUST_BACKTRACE [0: a panic replayed hundreds of times with
#                       backtraces doubles the run time; set 1 to see where a panic comes from]
#   FUZZ_VENV           Python venv holding schemathesis [target/fuzz-venv]; reused when it has
#                       the pinned version
#   FUZZ_OUT            reports, server logs, summaries [target/fuzz-api]
#   PG_SERVER           PostgreSQL server URL without database [postgres://postgres@127.0.0.1:5432]
#   PG_PARAMS           query string added to the database URL [?sslmode=disable]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# Pinned: 4.32.5 is the version this script was written and checked against (CLI flags, the
# NDJSON event layout and the check names below).
SCHEMATHESIS_VERSION=4.32.5
# Validates the served document against the OpenAPI 3.0 specification's schema first.
SPEC_VALIDATOR_VERSION=0.7.2

SERVER_BIN=${SERVER_BIN:-target/debug/scheduler-server}
FUZZ_BACKENDS=${FUZZ_BACKENDS:-sqlite postgres}
FUZZ_MAX_EXAMPLES=${FUZZ_MAX_EXAMPLES:-50}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-150}
# One seed for every backend, so their findings compare; printed for a rerun.
FUZZ_SEED=${FUZZ_SEED:-$(( (RANDOM << 15 | RANDOM) ))}
FUZZ_WORKERS=${FUZZ_WORKERS:-1}
# A debug build takes ~0.2 s per backtrace, and a found panic is replayed hundreds of times.
FUZZ_RUST_BACKTRACE=${FUZZ_RUST_BACKTRACE:-0}
FUZZ_STRICT=${FUZZ_STRICT:-0}
FUZZ_VENV=${FUZZ_VENV:-target/fuzz-venv}
FUZZ_OUT=${FUZZ_OUT:-target/fuzz-api}
PG_SERVER=${PG_SERVER:-postgres://postgres@127.0.0.1:5432}
PG_PARAMS=${PG_PARAMS-?sslmode=disable}

abspath() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$ROOT/$1" ;; esac; }
SERVER_BIN=$(abspath "$SERVER_BIN")
FUZZ_VENV=$(abspath "$FUZZ_VENV")
FUZZ_OUT=$(abspath "$FUZZ_OUT")

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'fuzz-api: %s\n' "$*" >&2; exit 2; }

# ---------------------------------------------------------------- server binary
if [ ! -x "$SERVER_BIN" ]; then
    if [ "$SERVER_BIN" = "$ROOT/target/debug/scheduler-server" ]; then
        log "no $SERVER_BIN: cargo build -p scheduler-server"
        cargo build -q -p scheduler-server
    else
        die "SERVER_BIN=$SERVER_BIN is not an executable file"
    fi
fi

# ---------------------------------------------------------------- schemathesis venv
ST=$FUZZ_VENV/bin/st
PY=$FUZZ_VENV/bin/python
if [ -x "$ST" ] && "$ST" --version 2>/dev/null | grep -qx "st, version $SCHEMATHESIS_VERSION" \
    && "$PY" -m pip show openapi-spec-validator 2>/dev/null | grep -qx "Version: $SPEC_VALIDATOR_VERSION"; then
    log "reusing $FUZZ_VENV ($("$ST" --version))"
else
    log "installing schemathesis==$SCHEMATHESIS_VERSION openapi-spec-validator==$SPEC_VALIDATOR_VERSION into $FUZZ_VENV"
    [ -x "$PY" ] || python3 -m venv "$FUZZ_VENV"
    "$PY" -m pip install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" \
        "openapi-spec-validator==$SPEC_VALIDATOR_VERSION"
    "$ST" --version
fi

mkdir -p "$FUZZ_OUT"
SUMMARIZE=$FUZZ_OUT/summarize.py

# ---------------------------------------------------------------- report summarizer
# Reads one backend's NDJSON events and JSON report; prints failures grouped by check, operation
# and message, each with its smallest reproducing request; exit 0 clean, 1 soft only, 2 hard.
cat >"$SUMMARIZE" <<'PYEOF'
import base64, json, re, shlex, sys

ndjson_path, json_path, summary_path = sys.argv[1:4]
HARD_CHECKS = {"not_a_server_error", "response_schema_conformance"}
MAX_DETAILS = 12
HARD_ERRORS = {"Network Error", "Server Unavailable", "Unresponsive Operation", "Unhealthy API"}


def curl(req):
    parts = ["curl", "-i", "-X", req.get("method", "GET")]
    for name, values in (req.get("headers") or {}).items():
        for value in values if isinstance(values, list) else [values]:
            parts += ["-H", f"{name}: {value}"]
    body = req.get("body")
    pipe = ""
    if isinstance(body, dict) and "$base64" in body:
        raw = base64.b64decode(body["$base64"])
        try:
            text = raw.decode("utf-8")
            if any(ord(c) < 32 and c not in "\t\n\r" for c in text):
                raise ValueError
            parts += ["--data-binary", text]
        except ValueError:
            pipe = "printf '%s' | " % "".join("\\x%02x" % b for b in raw)
            parts += ["--data-binary", "@-"]
    parts.append(req.get("uri", "?"))
    return pipe + " ".join(shlex.quote(p) for p in parts)


def detail_of(check, failure, status, body, case_description):
    """What distinguishes one finding of a check from another."""
    msg = (failure.get("message") or "").strip()
    lines = [l.strip() for l in msg.splitlines() if l.strip()]
    first = lines[0] if lines else failure.get("title", "")
    if failure.get("type") == "JsonSchemaError":
        # Name the rule and where it is, not the (varying) offending value.
        m = re.match(r"^(.*?) (is not of type .*|is not one of .*|is not valid under .*|does not match .*"
                     r"|is too (?:long|short|large|small).*|is not a .*)$", first)
        if m:
            first = ("null " if m.group(1) == "null" else "value ") + m.group(2)
        where = next((l.rstrip(":") for l in lines if l.startswith("Schema at ")), "Schema at (root)")
        return [f"{first} | {where} | status {status}"]
    if check == "positive_data_acceptance":
        # The server names each field it rejected: one finding per rejected field.
        try:
            fields = sorted(json.loads(body))
        except (ValueError, TypeError):
            fields = []
        return [f"schema-valid request answered {status}, server rejected `{f}`" for f in fields] or [
            f"schema-valid request answered {status}"]
    if check == "negative_data_rejection":
        return [f"schema-invalid request ({case_description}) answered {status}"]
    if check == "not_a_server_error":
        return [f"{status}: {' '.join(body.split())[:120]}"]
    return [first]


groups = {}  # (check, operation, detail) -> {"cases": set, "example": ...}
errors = []
for line in open(ndjson_path, encoding="utf-8"):
    event = json.loads(line)
    if "NonFatalError" in event or "FatalError" in event:
        e = event.get("NonFatalError") or event.get("FatalError")
        v = e.get("value") or {}
        errors.append({"label": e.get("label"), "phase": e.get("phase"),
                       "type": v.get("type"), "message": v.get("message"),
                       "fatal": "FatalError" in event})
        continue
    s = event.get("ScenarioFinished")
    if not s:
        continue
    rec = s.get("recorder") or {}
    cases = rec.get("cases") or {}
    interactions = rec.get("interactions") or {}
    for case_id, checks in (rec.get("checks") or {}).items():
        for check in checks:
            if check.get("status") != "failure":
                continue
            failure = (check.get("failure_info") or {}).get("failure") or {}
            case = (cases.get(case_id) or {}).get("value") or {}
            op = failure.get("operation") or f"{case.get('method')} {case.get('path')}"
            inter = interactions.get(case_id) or {}
            req, resp = inter.get("request") or {}, inter.get("response") or {}
            cmd = curl(req) if req else "(no request recorded)"
            body = ""
            if isinstance(resp.get("content"), dict) and "$base64" in resp["content"]:
                body = base64.b64decode(resp["content"]["$base64"]).decode("utf-8", "replace")
            meta = ((case.get("meta") or {}).get("phase") or {}).get("data") or {}
            details = detail_of(check["name"], failure, resp.get("status_code"), body, meta.get("description"))
            # Smallest reproduction first: fewest fields in the answer, then the shortest request.
            weight = (len(details), len(cmd))
            example = {"curl": cmd, "status": resp.get("status_code"),
                       "headers": {k: v for k, v in (resp.get("headers") or {}).items()},
                       "body": body[:400], "phase": s.get("phase"),
                       "mode": ((case.get("meta") or {}).get("generation") or {}).get("mode"),
                       "case": meta.get("description"), "message": failure.get("message", ""),
                       "weight": weight}
            for detail in details:
                g = groups.setdefault((check["name"], op, detail), {
                    "cases": set(), "example": None, "code": failure.get("code"), "title": failure.get("title")})
                g["cases"].add(case_id)
                if g["example"] is None or weight < tuple(g["example"]["weight"]):
                    g["example"] = example

try:
    report = json.load(open(json_path, encoding="utf-8"))
except (OSError, ValueError):
    report = {}

hard, soft = [], []
for (check, op, detail), g in sorted(groups.items()):
    (hard if check in HARD_CHECKS else soft).append((check, op, detail, g))
hard_errors = [e for e in report.get("errors", []) if e.get("title") in HARD_ERRORS]
soft_errors = [e for e in report.get("errors", []) if e.get("title") not in HARD_ERRORS]
incomplete = report.get("complete") is False or report.get("stop_reason") not in (None, "completed")


def show(title, items):
    """One block per check, one line per operation, one sub-line per distinct message."""
    if not items:
        return
    print(f"--- {title}")
    by_check = {}
    for check, op, detail, g in items:
        by_check.setdefault(check, {}).setdefault(op, []).append((detail, g))
    for check, ops in by_check.items():
        total = sum(len(g["cases"]) for dets in ops.values() for _, g in dets)
        _, g0 = next(iter(ops.values()))[0]
        print(f"  [{check}] {g0['code']} {g0['title']}: {total} case(s) in {len(ops)} operation(s)")
        for op, dets in ops.items():
            print(f"    {op}: {sum(len(g['cases']) for _, g in dets)} case(s)")
            # "DELETE returned 405 ..." and "PUT returned 405 ...": one line listing the methods.
            merged = {}
            for detail, g in dets:
                m = re.match(r"^([A-Z]+) (returned .*)$", detail)
                k = m.group(2) if m else detail
                e = merged.setdefault(k, {"methods": [], "g": g, "n": 0})
                e["n"] += len(g["cases"])
                if m:
                    e["methods"].append(m.group(1))
                if tuple(g["example"]["weight"]) < tuple(e["g"]["example"]["weight"]):
                    e["g"] = g
            shown = list(merged.items())
            for k, e in shown[:MAX_DETAILS]:
                ex = e["g"]["example"]
                methods = f" [methods: {', '.join(sorted(e['methods']))}]" if e["methods"] else ""
                gen = f"; sent: {ex['mode']} case '{ex['case']}'" if ex.get("case") else ""
                print(f"      - {k}{methods} ({e['n']}x)")
                print(f"        got {ex['status']}: {clip(ex['body'], 160)}{gen}")
                print(f"        repro: {clip(ex['curl'], 400)}")
            if len(shown) > MAX_DETAILS:
                print(f"      ... {len(shown) - MAX_DETAILS} more distinct message(s): see summary.json")


def clip(text, n):
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 3] + "..."


show("HARD failures (fail the run)", hard)
show("other check failures (fail only with FUZZ_STRICT=1)", soft)
if errors or report.get("errors"):
    print("--- schemathesis errors")
    for e in report.get("errors", []):
        kind = "HARD" if e["title"] in HARD_ERRORS else "soft"
        print(f"  [{kind}] {e['title']}: {e['count']}")
    for e in errors:
        print(f"    {e['label']} ({e['phase']}): {e['type']}: {e['message']}")
if incomplete:
    print(f"--- run incomplete: stop_reason={report.get('stop_reason')} complete={report.get('complete')}")

counts = {}
for check, _, _, g in hard + soft:
    counts[check] = counts.get(check, 0) + len(g["cases"])
json.dump({"hard": [[c, o, d, len(g["cases"]), g["example"]] for c, o, d, g in hard],
           "soft": [[c, o, d, len(g["cases"]), g["example"]] for c, o, d, g in soft],
           "errors": report.get("errors", []), "error_events": errors,
           "cases_by_check": counts, "incomplete": incomplete,
           "generated": (report.get("test_cases") or {}).get("generated")},
          open(summary_path, "w"), indent=1)
print("--- failing cases by check: " + (", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "none"))
sys.exit(2 if (hard or hard_errors or incomplete) else 1 if (soft or soft_errors) else 0)
PYEOF

# ---------------------------------------------------------------- one backend
SERVER_PID=
PG_DB=
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
    if [ -n "$PG_DB" ]; then
        psql "$PG_SERVER/postgres" -q -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
        PG_DB=
    fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

declare -A VERDICT DETAIL
OVERALL=0

fuzz_backend() { # name
    local name=$1 dir=$FUZZ_OUT/$1 url port st_rc=0 sum_rc=0 panics log5xx alive=1 why=()
    rm -rf "$dir" && mkdir -p "$dir"
    case $name in
        sqlite) url="sqlite://$dir/fuzz.db?mode=rwc" ;;
        postgres)
            PG_DB="scheduler_fuzz_$$_$RANDOM"
            psql "$PG_SERVER/postgres" -q -c "CREATE DATABASE $PG_DB" >/dev/null
            url="$PG_SERVER/$PG_DB$PG_PARAMS" ;;
        *) die "unknown backend $name (sqlite, postgres)" ;;
    esac
    port=$(free_port)
    # Fuzzed jobs carry http targets (the schema's own example is https://example.com/...), and
    # POST /scheduler/jobs/{id}/run executes a job at once even with the dispatcher off. Every
    # outgoing request of the server goes to an egress proxy on a closed loopback port, so none
    # leaves the machine (SCHEDULER_EGRESS_PROXY; the run fails with "error sending request").
    # The *_PROXY variables are set too, for anything else the server might start.
    # SCHEDULER_AUTH=off: a fuzzed POST /scheduler/keys/ would otherwise create the first key
    # and turn every later request into a 401 (the auth paths have their own tests).
    local dead_proxy="http://127.0.0.1:$(free_port)"
    log "$name: $SERVER_BIN serve on 127.0.0.1:$port, log $dir/server.log"
    env -u REDIS_URL -u NO_PROXY -u no_proxy DATABASE_URL="$url" SCHEDULER_BIND="127.0.0.1:$port" \
        SCHEDULER_DISPATCHER=off SCHEDULER_AUTH=off SCHEDULER_EGRESS_PROXY="$dead_proxy" \
        SCHEDULER_SHUTDOWN_GRACE_SECONDS=5 RUST_LOG=info RUST_BACKTRACE="$FUZZ_RUST_BACKTRACE" \
        HTTP_PROXY="$dead_proxy" HTTPS_PROXY="$dead_proxy" ALL_PROXY="$dead_proxy" \
        http_proxy="$dead_proxy" https_proxy="$dead_proxy" all_proxy="$dead_proxy" \
        "$SERVER_BIN" serve >"$dir/server.log" 2>&1 &
    SERVER_PID=$!
    local up=0
    for _ in $(seq 1 100); do
        if curl -sf --max-time 2 "http://127.0.0.1:$port/health" >/dev/null; then up=1; break; fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.2
    done
    if [ "$up" != 1 ]; then
        tail -20 "$dir/server.log" >&2
        cleanup
        VERDICT[$name]=FAIL; DETAIL[$name]="server did not start"; OVERALL=1
        return
    fi

    # The document itself must be a valid OpenAPI 3.0 document.
    if ! "$PY" - "http://127.0.0.1:$port/openapi.json" >"$dir/spec-validation.out" 2>&1 <<'PYEOF'
import json, sys, urllib.request
from openapi_spec_validator import validate
from openapi_spec_validator.validation.validators import OpenAPIV30SpecValidator
document = json.load(urllib.request.urlopen(sys.argv[1]))
assert document.get("openapi", "").startswith("3.0"), document.get("openapi")
validate(document, cls=OpenAPIV30SpecValidator)
print("the served document is a valid OpenAPI", document["openapi"], "document")
PYEOF
    then
        cat "$dir/spec-validation.out" >&2
        cleanup
        VERDICT[$name]=FAIL; DETAIL[$name]="the served document is not valid OpenAPI 3.0"; OVERALL=1
        return
    fi
    log "$name: $(tail -1 "$dir/spec-validation.out")"

    local args=(run "http://127.0.0.1:$port/openapi.json" --checks all
        --max-examples "$FUZZ_MAX_EXAMPLES" --continue-on-failure --workers "$FUZZ_WORKERS"
        --request-timeout 10 --generation-database none --no-color
        --report junit,json,ndjson --report-dir "$dir"
        --report-junit-path "$dir/junit.xml" --report-json-path "$dir/report.json"
        --report-ndjson-path "$dir/events.ndjson")
    args+=(--seed "$FUZZ_SEED")
    log "$name: st ${args[*]} (timeout ${FUZZ_TIMEOUT}s)"
    # Run from the report folder: schemathesis and hypothesis keep state folders in the cwd.
    # No proxy for schemathesis itself: it talks to 127.0.0.1 directly.
    (cd "$dir" && env -u HTTP_PROXY -u HTTPS_PROXY -u ALL_PROXY -u http_proxy -u https_proxy -u all_proxy \
        timeout -k 10 "$FUZZ_TIMEOUT" "$ST" "${args[@]}") >"$dir/st.out" 2>&1 || st_rc=$?
    kill -0 "$SERVER_PID" 2>/dev/null || alive=0
    cleanup

    panics=$(grep -c 'panicked at' "$dir/server.log" || true)
    log5xx=$(grep -cE 'status=5[0-9]{2}\b' "$dir/server.log" || true)

    echo
    echo "################ $name: $(sed -n '/^Test cases:/{n;s/^ *//;p}' "$dir/st.out"); $(grep -m1 '^Seed:' "$dir/st.out" || true)"
    if [ -s "$dir/events.ndjson" ]; then
        "$PY" "$SUMMARIZE" "$dir/events.ndjson" "$dir/report.json" "$dir/summary.json" || sum_rc=$?
    else
        sum_rc=2; why+=("no schemathesis report")
    fi
    # schemathesis' own ERRORS section holds the reproducing request of a dropped connection.
    sed -n '/^=* ERRORS =*$/,/^=* \(FAILURES\|SUMMARY\) =*$/p' "$dir/st.out" | sed '$d'
    if [ "$panics" -gt 0 ]; then
        echo "--- $panics panic(s) in $dir/server.log:"
        # The server's panic hook logs one line: "... ERROR ... panicked at file:line: message".
        grep 'panicked at' "$dir/server.log" | sed 's/^.*panicked at/panicked at/' \
            | sort | uniq -c | sort -rn | head -20
        why+=("$panics panic(s)")
    fi
    [ "$log5xx" -gt 0 ] && { echo "--- $log5xx 5xx answer(s) in the server log"; why+=("$log5xx 5xx in log"); }
    [ "$alive" = 0 ] && why+=("server died during the run")
    case $st_rc in
        0 | 1) ;;
        124 | 137) why+=("schemathesis timed out after ${FUZZ_TIMEOUT}s (incomplete)") ;;
        *) why+=("schemathesis exited $st_rc"); tail -20 "$dir/st.out" ;;
    esac
    [ "$sum_rc" = 2 ] && why+=("server errors / schema violations / dropped connections (see above)")

    if [ ${#why[@]} -gt 0 ]; then
        VERDICT[$name]=FAIL; OVERALL=1
    elif [ "$sum_rc" = 1 ]; then
        if [ "$FUZZ_STRICT" = 1 ]; then VERDICT[$name]="FAIL (strict)"; OVERALL=1; else VERDICT[$name]="PASS (with soft findings)"; fi
        why+=("other check failures")
    else
        VERDICT[$name]=PASS
    fi
    local counts=""
    [ -s "$dir/summary.json" ] && counts=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(", ".join(f"{k}={v}" for k,v in sorted(d["cases_by_check"].items())) or "no check failures")' "$dir/summary.json")
    local reasons=clean
    [ ${#why[@]} -gt 0 ] && reasons=$(printf '%s; ' "${why[@]}") && reasons=${reasons%; }
    DETAIL[$name]="$reasons; failing cases: ${counts:-?}; panics=$panics 5xx-in-log=$log5xx; files: $dir"
}

for backend in $FUZZ_BACKENDS; do
    fuzz_backend "$backend"
done

echo
echo "################ summary (schemathesis $SCHEMATHESIS_VERSION, FUZZ_MAX_EXAMPLES=$FUZZ_MAX_EXAMPLES FUZZ_SEED=$FUZZ_SEED FUZZ_STRICT=$FUZZ_STRICT, $SERVER_BIN)"
for backend in $FUZZ_BACKENDS; do
    printf '%-9s %s\n          %s\n' "$backend" "${VERDICT[$backend]}" "${DETAIL[$backend]}"
done
exit "$OVERALL"
