#!/usr/bin/env python3
"""Soak driver: mixed MLflow-style REST traffic against a running ferroflow for a fixed time.

Workers (threads, one keep-alive connection each) loop over what a training fleet and its
users do: create a run, log params, tags, metric batches and single points, finish the run;
search runs with filters and order_by, read histories, get runs, list experiments, open the
experiment page. Every `--interval` seconds one row is printed (and appended to `--out`):
the server's RSS, requests and errors in the window, latency percentiles in the window.

Standard library only, so it runs with any python3.
"""

import argparse
import http.client
import json
import random
import threading
import time
import uuid

LOCK = threading.Lock()
WINDOW = {"lat": [], "errors": 0, "codes": {}}
TOTALS = {"requests": 0, "errors": 0}


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Client:
    def __init__(self, host, port):
        self.host, self.port = host, port
        self.conn = None

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": "application/json"} if data is not None else {}
        start = time.perf_counter()
        status, payload = 0, b""
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                status, payload = resp.status, resp.read()
                break
            except (OSError, http.client.HTTPException):
                self.conn = None
                if attempt == 1:
                    status = -1
        elapsed = time.perf_counter() - start
        with LOCK:
            WINDOW["lat"].append(elapsed)
            WINDOW["codes"][status] = WINDOW["codes"].get(status, 0) + 1
            TOTALS["requests"] += 1
            if status != 200:
                WINDOW["errors"] += 1
                TOTALS["errors"] += 1
        if status != 200:
            return None
        return json.loads(payload) if payload[:1] in (b"{", b"[") else payload


def api(c, method, endpoint, body=None):
    return c.call(method, "/api/2.0/mlflow/" + endpoint, body)


def worker(host, port, experiment_ids, stop, seed, pause):
    rng = random.Random(seed)
    c = Client(host, port)
    while not stop.is_set():
        exp = rng.choice(experiment_ids)
        run = api(c, "POST", "runs/create", {
            "experiment_id": exp, "run_name": f"soak-{uuid.uuid4().hex[:8]}",
            "start_time": int(time.time() * 1000),
        })
        if not run:
            time.sleep(0.1)
            continue
        run_id = run["run"]["info"]["run_id"]
        api(c, "POST", "runs/log-batch", {
            "run_id": run_id,
            "params": [{"key": f"p{i}", "value": str(rng.random())} for i in range(10)],
            "tags": [{"key": "team", "value": rng.choice(["a", "b", "c"])}],
        })
        now = int(time.time() * 1000)
        for step in range(0, 200, 50):
            api(c, "POST", "runs/log-batch", {"run_id": run_id, "metrics": [
                {"key": k, "value": rng.random(), "timestamp": now + s, "step": s}
                for s in range(step, step + 50) for k in ("loss", "acc")
            ]})
        for s in range(200, 220):
            api(c, "POST", "runs/log-metric", {
                "run_id": run_id, "key": "lr", "value": 1.0 / (s + 1), "timestamp": now + s, "step": s,
            })
        api(c, "POST", "runs/set-tag", {"run_id": run_id, "key": "phase", "value": "eval"})
        # Reads, as the UI and notebooks do between writes.
        api(c, "GET", f"runs/get?run_id={run_id}")
        api(c, "GET", f"metrics/get-history?run_id={run_id}&metric_key=loss")
        api(c, "POST", "runs/search", {
            "experiment_ids": [exp], "max_results": 50,
            "filter": rng.choice(["metrics.loss < 0.5", "params.p1 LIKE '0.3%'",
                                  "tags.team = 'a'", "attributes.status = 'FINISHED'", ""]),
            "order_by": [rng.choice(["metrics.acc DESC", "attributes.start_time DESC",
                                     "params.p2 ASC"])],
        })
        api(c, "POST", "experiments/search", {"max_results": 20})
        if rng.random() < 0.2:
            c.call("GET", f"/experiments/{exp}")
        api(c, "POST", "runs/update", {
            "run_id": run_id, "status": "FINISHED", "end_time": int(time.time() * 1000),
        })
        stop.wait(pause)


def percentile(sorted_values, q):
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True, help="server process, for its RSS")
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--interval", type=float, default=60, help="seconds per table row")
    ap.add_argument("--pause", type=float, default=0.0,
                    help="seconds each worker waits between runs (0: as fast as it can)")
    ap.add_argument("--out", help="also append the table here")
    a = ap.parse_args()

    c = Client(a.host, a.port)
    experiment_ids = []
    for i in range(4):
        r = api(c, "POST", "experiments/create", {"name": f"soak-{uuid.uuid4().hex[:8]}-{i}"})
        experiment_ids.append(r["experiment_id"])

    out = open(a.out, "a") if a.out else None

    def emit(line):
        print(line, flush=True)
        if out:
            out.write(line + "\n")
            out.flush()

    emit("| minute | RSS MiB | requests | req/s | errors | p50 ms | p95 ms | p99 ms | max ms |")
    emit("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    stop = threading.Event()
    threads = [threading.Thread(target=worker, args=(a.host, a.port, experiment_ids, stop, i, a.pause),
                                daemon=True) for i in range(a.workers)]
    for t in threads:
        t.start()
    start = time.time()
    end = start + a.minutes * 60
    rss_samples = []
    last = start
    while time.time() < end:
        time.sleep(min(a.interval, max(0.0, end - time.time())))
        now = time.time()
        window, last = max(now - last, 1e-9), now
        with LOCK:
            lat = sorted(WINDOW["lat"])
            errors, codes = WINDOW["errors"], dict(WINDOW["codes"])
            WINDOW["lat"], WINDOW["errors"], WINDOW["codes"] = [], 0, {}
        rss = rss_kib(a.pid) / 1024
        rss_samples.append(rss)
        ms = lambda q: percentile(lat, q) * 1000  # noqa: E731
        emit(f"| {(time.time() - start) / 60:.1f} | {rss:.1f} | {len(lat)} | "
             f"{len(lat) / window:.0f} | {errors}{'' if not errors else ' ' + str(codes)} | "
             f"{ms(0.5):.1f} | {ms(0.95):.1f} | {ms(0.99):.1f} | {ms(1.0):.1f} |")
    stop.set()
    for t in threads:
        t.join(timeout=70)
    emit("")
    emit(f"Total: {TOTALS['requests']} requests, {TOTALS['errors']} non-200; "
         f"RSS first/last/max sample {rss_samples[0]:.1f}/{rss_samples[-1]:.1f}/"
         f"{max(rss_samples):.1f} MiB.")
    return 1 if TOTALS["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
