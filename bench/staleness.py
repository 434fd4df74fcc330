"""Staleness between two replicas: PATCH a job on replica A, then read it on replica B until
B answers the new value; the delay from A's answer to B's first fresh answer, over N pairs.

    python3 bench/staleness.py http://127.0.0.1:18103 http://127.0.0.1:18106 1000

Bounded: N pairs, each given up after 2 s (counted and reported as a failure). Prints
p50/p99/max in milliseconds and how many of B's reads came back stale before the fresh one.
"""
import http.client
import json
import sys
import time
import urllib.parse


def connection(base):
    url = urllib.parse.urlparse(base)
    return http.client.HTTPConnection(url.hostname, url.port, timeout=5)


def call(conn, method, path, body=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    response = conn.getresponse()
    data = response.read()
    if response.status >= 300:
        raise SystemExit(f"{method} {path}: {response.status} {data[:200]!r}")
    return json.loads(data) if data else None


def main():
    a_base, b_base, pairs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    a, b = connection(a_base), connection(b_base)
    job = call(a, "POST", "/scheduler/jobs/",
               {"name": f"staleness-{time.time_ns()}", "cron_expression": "0 0 1 1 *"})
    path = f"/scheduler/jobs/{job['id']}/"
    call(b, "GET", path)  # B holds the job in its local tier from here on
    delays, stale_reads, failures = [], 0, 0
    for i in range(pairs):
        want = f"v{i}"
        call(a, "PATCH", path, {"description": want})
        written = time.perf_counter()
        while True:
            seen = call(b, "GET", path)
            now = time.perf_counter()
            if seen["description"] == want:
                delays.append((now - written) * 1000)
                break
            stale_reads += 1
            if now - written > 2:
                failures += 1
                break
    call(a, "DELETE", path)
    delays.sort()
    pick = lambda q: delays[min(len(delays) - 1, round(q * (len(delays) - 1)))]
    print(f"{len(delays)} pairs: B saw A's write after p50 {pick(0.5):.2f} ms, "
          f"p99 {pick(0.99):.2f} ms, max {delays[-1]:.2f} ms; "
          f"{stale_reads} stale reads before a fresh one; {failures} not seen within 2 s")
    if failures:
        sys.exit(1)


main()
