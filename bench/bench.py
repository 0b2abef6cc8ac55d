#!/usr/bin/env python3
"""Side-by-side benchmark driver: ferroflow vs MLflow vs FastTrackML.

Started by bench/run.sh (which prepares the venv and builds ferroflow). For each server in
turn it creates a fresh database, starts the server on 127.0.0.1, runs the workloads over
MLflow's public REST API, samples the server's process-tree memory, stops the server and
drops the database. It prints a comparison table and writes JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import multiprocessing
import os
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from importlib import metadata
from pathlib import Path

import aiohttp

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
VENV_BIN = BENCH_DIR / ".venv" / "bin"
API = "/api/2.0/mlflow"
JSON_H = {"Content-Type": "application/json"}
PG = dict(host="127.0.0.1", port=5432, user="postgres")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PIDFILE = BENCH_DIR / "results" / ".server-pgids"


# --------------------------------------------------------------------------------------------
# sizes


def sizes(quick: bool) -> dict:
    full = dict(
        ingest_runs=50_000,
        ingest_clients=8,
        ingest_procs=2,  # driver processes sharing the 8 clients, so Python is not the limit
        rate_seconds=30,
        rate_connections=32,
        rate_threads=2,
        long_points=1_000_000,
        long_clients=4,
        batch=1000,
        hist_points=100_000,
        hist_calls=5,
        search_calls=10,
        walk_page=1000,
        bulk_runs=100,
        bulk_calls=10,
    )
    # A server slower than this per write workload stops early; the table says how far
    # it got (MLflow would need over an hour and a half for 50,000 runs).
    full["budget_s"] = 300
    if quick:
        for k in ("ingest_runs", "long_points", "hist_points"):
            full[k] //= 25
        full["rate_seconds"] = 5
        full["budget_s"] = 0
    full["hist_page"] = max(1, full["hist_points"] // 10)  # get-history walks ~10 pages
    return full


# --------------------------------------------------------------------------------------------
# realistic, deterministic run data

OPTIMIZERS = ["adam", "sgd", "rmsprop"]
LRS = ["0.1", "0.01", "0.001", "0.0001"]
BATCH = ["16", "32", "64", "128", "256"]
MODELS = ["resnet18", "resnet50", "vit-b16", "convnext-t"]


def run_payload(i: int) -> tuple[list, list, list]:
    """params p0..p9, tags t0..t4, metrics m0..m4 x 20 steps for run number i."""
    rng = random.Random(i)
    params = [
        {"key": "p0", "value": OPTIMIZERS[i % 3]},
        {"key": "p1", "value": LRS[(i // 3) % 4]},
        {"key": "p2", "value": BATCH[i % 5]},
        {"key": "p3", "value": MODELS[(i // 7) % 4]},
        {"key": "p4", "value": str([0.0, 0.1, 0.2, 0.3, 0.5][(i // 11) % 5])},
        {"key": "p5", "value": str([10, 20, 50][(i // 13) % 3])},
        {"key": "p6", "value": ["true", "false"][i % 2]},
        {"key": "p7", "value": f"seed-{i % 10}"},
        {"key": "p8", "value": ["cifar10", "cifar100", "imagenet-1k"][(i // 17) % 3]},
        {"key": "p9", "value": f"/data/shards/shard-{i % 50:03d}.parquet"},
    ]
    tags = [
        {"key": "t0", "value": f"team-{i % 7}"},
        {"key": "t1", "value": f"user-{i % 13}"},
        {"key": "t2", "value": ["gpu", "cpu"][i % 2]},
        {"key": "t3", "value": f"git-{rng.getrandbits(40):010x}"},
        {"key": "t4", "value": ["prod", "dev", "test"][i % 3]},
    ]
    ts0 = 1_700_000_000_000 + i * 1000
    metrics = []
    for m in range(5):
        start, end = rng.uniform(1.0, 3.0), rng.random()
        for step in range(20):
            frac = step / 19
            v = start + (end - start) * frac + rng.uniform(-0.01, 0.01) * (1 - frac)
            if step == 19:
                v = end  # uniformly random final value: m0 > 0.5 selects about half
            metrics.append({"key": f"m{m}", "value": v, "timestamp": ts0 + step, "step": step})
    return params, tags, metrics


# --------------------------------------------------------------------------------------------
# HTTP helpers


class ApiError(Exception):
    pass


class Api:
    def __init__(self, session: aiohttp.ClientSession, base: str):
        self.s = session
        self.base = base

    async def post(self, path: str, body: dict) -> dict:
        raw = await self.post_raw(path, body)
        return json.loads(raw) if raw else {}

    async def post_raw(self, path: str, body: dict) -> bytes:
        """The response body undecoded, so that a timed call measures the server and not
        Python's JSON parser (decoding a page of 1,000 runs takes the client ~25 ms)."""
        data = json.dumps(body)
        async with self.s.post(self.base + API + path, data=data, headers=JSON_H) as r:
            raw = await r.read()
            if r.status != 200:
                raise ApiError(f"POST {API}{path} -> HTTP {r.status}: {raw[:300]!r} | request body: {data[:300]}")
        return raw

    async def get(self, path: str, params) -> dict:
        async with self.s.get(self.base + API + path, params=params) as r:
            text = await r.text()
            if r.status != 200:
                raise ApiError(f"GET {API}{path} {_brief(params)} -> HTTP {r.status}: {text[:300]}")
        return json.loads(text) if text else {}


def _brief(params) -> str:
    if isinstance(params, dict):
        return str(params)
    counts: dict = {}
    for k, v in params:
        counts.setdefault(k, []).append(v)
    return "{" + ", ".join(f"{k}: ({len(v)} values)" if len(v) > 1 else f"{k}: {v[0]}" for k, v in counts.items()) + "}"


def session(limit: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, force_close=False),
        timeout=aiohttp.ClientTimeout(total=600),
    )


async def create_experiment(api: Api, name: str) -> str:
    return (await api.post("/experiments/create", {"name": name}))["experiment_id"]


async def create_run(api: Api, exp_id: str, name: str) -> str:
    r = await api.post("/runs/create", {"experiment_id": exp_id, "run_name": name, "start_time": int(time.time() * 1000)})
    return r["run"]["info"]["run_id"]


async def log_points(api: Api, run_id: str, key: str, n: int, batch: int, t0: int = 1_700_000_000_000) -> None:
    for off in range(0, n, batch):
        pts = [{"key": key, "value": (j % 977) * 0.001, "timestamp": t0 + j, "step": j} for j in range(off, min(n, off + batch))]
        await api.post("/runs/log-batch", {"run_id": run_id, "metrics": pts})


async def history(api: Api, run_id: str, key: str, page: int | None) -> tuple[int, int]:
    """All points of a metric following next_page_token. Returns (points, pages)."""
    total, pages, token, seen = 0, 0, None, set()
    while True:
        params = {"run_id": run_id, "metric_key": key}
        if page:
            params["max_results"] = str(page)
        if token:
            params["page_token"] = token
        r = await api.get("/metrics/get-history", params)
        total += len(r.get("metrics", []))
        pages += 1
        token = r.get("next_page_token")
        if not token:
            return total, pages
        if token in seen or pages > 100_000:
            raise ApiError(f"get-history paging loops (token {token!r} repeated)")
        seen.add(token)


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


# --------------------------------------------------------------------------------------------
# process-tree sampling (memory and CPU)


def _proc_table() -> dict[int, tuple[int, int, int]]:
    """pid -> (ppid, rss_bytes, cpu_ticks) for every process."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                s = f.read().decode(errors="replace")
        except OSError:
            continue
        rest = s[s.rfind(")") + 2 :].split()
        # fields after comm: state(0) ppid(1) ... utime(11) stime(12) ... rss(21)
        out[int(d)] = (int(rest[1]), int(rest[21]) * PAGE_SIZE, int(rest[11]) + int(rest[12]))
    return out


class TreeSampler(threading.Thread):
    """Samples the summed RSS of a process and all its descendants every 100 ms."""

    def __init__(self, root: int, interval: float = 0.1):
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.peak_rss = 0
        self.window_peak_rss = 0  # reset by each workload: where the peak came from
        self.peak_procs = 0
        self.cpu_ticks: dict[int, int] = {}
        self._halt = threading.Event()

    def sample(self) -> None:
        table = _proc_table()
        children: dict[int, list[int]] = {}
        for pid, (ppid, _, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        todo, rss, n = [self.root], 0, 0
        while todo:
            pid = todo.pop()
            if pid not in table:
                continue
            n += 1
            rss += table[pid][1]
            self.cpu_ticks[pid] = table[pid][2]
            todo.extend(children.get(pid, []))
        self.peak_rss = max(self.peak_rss, rss)
        self.window_peak_rss = max(self.window_peak_rss, rss)
        self.peak_procs = max(self.peak_procs, n)

    def cpu_seconds(self) -> float:
        return sum(self.cpu_ticks.values()) / CLK_TCK

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self.sample()
            except Exception:
                pass
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=2)


# --------------------------------------------------------------------------------------------
# servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(sql: str) -> None:
    subprocess.run(
        ["psql", "-h", PG["host"], "-p", str(PG["port"]), "-U", PG["user"], "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qc", sql],
        check=True, capture_output=True, text=True,
    )


class Server:
    def __init__(self, name: str, backend: str, ferroflow_bin: str, workdir: Path):
        self.name, self.backend = name, backend
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.dir = workdir / name
        self.dir.mkdir(parents=True)
        self.log_path = self.dir / "server.log"
        self.proc: subprocess.Popen | None = None
        self.dbname = None
        art = str(self.dir / "artifacts")
        env = dict(os.environ)
        if backend == "postgres":
            self.dbname = f"bench_{name}_{secrets.token_hex(4)}"
            psql(f"CREATE DATABASE {self.dbname}")
        if name == "ferroflow":
            uri = f"sqlite:///{self.dir}/ferroflow.db" if backend == "sqlite" else f"postgresql://postgres@127.0.0.1:5432/{self.dbname}"
            self.cmd = [ferroflow_bin, "server", "--host", "127.0.0.1", "--port", str(self.port),
                        "--backend-store-uri", uri, "--default-artifact-root", art]
            self.cwd = str(REPO_ROOT)
        elif name == "mlflow":
            uri = f"sqlite:///{self.dir}/mlflow.db" if backend == "sqlite" else f"postgresql://postgres@127.0.0.1:5432/{self.dbname}"
            self.cmd = [str(VENV_BIN / "mlflow"), "server", "--backend-store-uri", uri, "--host", "127.0.0.1",
                        "--port", str(self.port), "--default-artifact-root", art]
            env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
            env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
            self.cwd = str(self.dir)
        elif name == "fasttrackml":
            uri = f"sqlite://{self.dir}/fasttrackml.db" if backend == "sqlite" else f"postgres://postgres@127.0.0.1:5432/{self.dbname}?sslmode=disable"
            self.cmd = [str(VENV_BIN / "fml"), "server", "--listen-address", f"127.0.0.1:{self.port}",
                        "--database-uri", uri, "--default-artifact-root", art]
            self.cwd = str(self.dir)
        else:
            raise ValueError(name)
        self.uri = uri
        self.env = env

    def start(self, timeout: float = 240) -> float:
        t0 = time.monotonic()
        self.logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.cmd, cwd=self.cwd, env=self.env, stdout=self.logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        with open(PIDFILE, "a") as f:
            f.write(f"{self.proc.pid}\n")
        self.sampler = TreeSampler(self.proc.pid)
        self.sampler.start()
        url = f"{self.base}{API}/experiments/search?max_results=1"
        import urllib.request
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} during start-up: {self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        return time.monotonic() - t0
            except Exception:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout}s: {self.log_tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n: int = 600) -> str:
        try:
            return self.log_path.read_bytes()[-n:].decode(errors="replace").replace("\n", " | ")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
            try:  # whatever is left of the group (workers)
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self.proc = None
            self.logf.close()
        if hasattr(self, "sampler"):
            self.sampler.stop()
        if self.dbname and os.environ.get("BENCH_KEEP"):
            print(f"  kept database {self.dbname} (BENCH_KEEP)", file=sys.stderr)
        elif self.dbname:
            try:
                psql(f"DROP DATABASE IF EXISTS {self.dbname} WITH (FORCE)")
            except subprocess.CalledProcessError as e:
                print(f"  warning: could not drop {self.dbname}: {e.stderr.strip()}", file=sys.stderr)
            self.dbname = None


def version_of(name: str, ferroflow_bin: str) -> str:
    try:
        if name == "ferroflow":
            out = subprocess.run([ferroflow_bin, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
            return out or "unknown"
        if name == "mlflow":
            return f"mlflow {metadata.version('mlflow')}"
        if name == "fasttrackml":
            return subprocess.run([str(VENV_BIN / "fml"), "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception as e:
        return f"unknown ({e})"
    return "unknown"


# --------------------------------------------------------------------------------------------
# workload 1: ingest (runs in `ingest_procs` driver processes)


async def _ingest_async(base: str, exp_id: str, indices: list[int], clients: int, start_at: float, budget: float) -> dict:
    errors: list[str] = []
    nerr = 0
    done = 0
    done_indices: list[int] = []
    it = iter(indices)
    deadline = start_at + budget if budget else float("inf")
    async with session(clients + 2) as s:
        api = Api(s, base)

        async def client():
            nonlocal nerr, done
            for i in it:
                if time.time() > deadline:
                    return
                params, tags, metrics = run_payload(i)
                try:
                    rid = await create_run(api, exp_id, f"run-{i:06d}")
                    await api.post("/runs/log-batch", {"run_id": rid, "params": params, "tags": tags, "metrics": metrics})
                    await api.post("/runs/update", {"run_id": rid, "status": "FINISHED", "end_time": int(time.time() * 1000)})
                    done += 1
                    done_indices.append(i)
                except Exception as e:
                    nerr += 1
                    if len(errors) < 3:
                        errors.append(f"run {i}: {type(e).__name__}: {e}")
                    if nerr > 50 and nerr > done:
                        raise ApiError(f"too many ingest errors ({nerr}); first: {errors[0]}")

        delay = start_at - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        t0, c0 = time.time(), time.process_time()
        results = await asyncio.gather(*[client() for _ in range(clients)], return_exceptions=True)
        t1, c1 = time.time(), time.process_time()
    for r in results:
        if isinstance(r, Exception) and len(errors) < 3:
            errors.append(f"{type(r).__name__}: {r}")
    return dict(done=done, nerr=nerr, errors=errors, t0=t0, t1=t1, cpu=c1 - c0, indices=done_indices)


def _ingest_proc(base: str, exp_id: str, indices: list[int], clients: int, start_at: float, budget: float) -> dict:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    return asyncio.run(_ingest_async(base, exp_id, indices, clients, start_at, budget))


def workload_ingest(srv: Server, exp_id: str, sz: dict) -> dict:
    n, procs = sz["ingest_runs"], sz["ingest_procs"]
    per = sz["ingest_clients"] // procs
    ctx = multiprocessing.get_context("spawn")
    start_at = time.time() + 3.0
    ex = concurrent.futures.ProcessPoolExecutor(procs, mp_context=ctx)
    try:
        futs = [ex.submit(_ingest_proc, srv.base, exp_id, list(range(p, n, procs)), per, start_at, sz["budget_s"])
                for p in range(procs)]
        outs = [f.result() for f in futs]
    except BaseException:  # Ctrl-C / SIGTERM: do not wait for the workers to finish
        for proc in list((ex._processes or {}).values()):
            proc.terminate()
        ex.shutdown(wait=False, cancel_futures=True)
        raise
    ex.shutdown()
    wall = max(o["t1"] for o in outs) - min(o["t0"] for o in outs)
    done = sum(o["done"] for o in outs)
    nerr = sum(o["nerr"] for o in outs)
    errors = [e for o in outs for e in o["errors"]][:3]
    res = dict(runs=done, failed_runs=nerr, seconds=wall, runs_per_s=done / wall, points_per_s=done * 100 / wall,
               requests_per_s=done * 3 / wall, driver_cpu_pct=100 * sum(o["cpu"] for o in outs) / wall,
               driver_procs=procs, clients=per * procs, indices=sorted(i for o in outs for i in o["indices"]))
    if done + nerr < n:
        res["budget_hit"] = f"stopped after the {sz['budget_s']} s budget: {done} of {n} runs"
    if errors:
        res["errors"] = errors
    if done == 0:
        raise ApiError(f"no run ingested: {errors[:1]}")
    return res


# --------------------------------------------------------------------------------------------
# workload 2: request rate with wrk


def workload_rate(srv: Server, run_id: str, sz: dict, workdir: Path) -> dict:
    key = "rate"
    cmd = ["wrk", "-t", str(sz["rate_threads"]), "-c", str(sz["rate_connections"]), "-d", f"{sz['rate_seconds']}s",
           "--timeout", "30s", "-s", str(BENCH_DIR / "wrk_log_metric.lua"), f"{srv.base}{API}/runs/log-metric",
           "--", run_id, key, str(1_700_000_000_000)]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    srv_cpu0 = srv.sampler.cpu_seconds()
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=sz["rate_seconds"] + 120)
    wall = time.monotonic() - t0
    srv.sampler.sample()
    srv_cpu = srv.sampler.cpu_seconds() - srv_cpu0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    (workdir / f"wrk-{srv.name}.txt").write_text(p.stdout + p.stderr)
    line = next((l for l in p.stdout.splitlines() if l.startswith("BENCHJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed (rc {p.returncode}): {(p.stdout + p.stderr)[-500:]}")
    w = json.loads(line[len("BENCHJSON "):])
    wrk_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    dur = w["duration_us"] / 1e6
    res = dict(
        requests_per_s=w["completed"] / dur, ok_per_s=w["ok"] / dur, ok=w["ok"], non200=w["non200"], sent=w["sent"],
        completed=w["completed"], p50_ms=w["p50_us"] / 1000, p90_ms=w["p90_us"] / 1000, p99_ms=w["p99_us"] / 1000,
        max_ms=w["max_us"] / 1000, socket_errors={k[4:]: w[k] for k in w if k.startswith("err_") and w[k]},
        wrk_cpu_pct=100 * wrk_cpu / wall, wrk_threads=sz["rate_threads"], server_cpu_pct=100 * srv_cpu / wall,
        seconds=dur, connections=sz["rate_connections"],
    )
    if w["first_err"]:
        res["first_non200"] = w["first_err"]
    return res


async def rate_check(api: Api, run_id: str, res: dict) -> None:
    # Wait for the server to settle (requests in flight when wrk stopped), then count.
    await asyncio.sleep(1.0)
    stored, pages = await history(api, run_id, "rate", 25_000)
    res["stored"] = stored
    res["stored_pages"] = pages
    res["in_flight_at_stop"] = res["sent"] - res["completed"]
    # A point is stored for each 200; requests still in flight when wrk stopped may also
    # have been stored (at most sent - completed of them).
    res["count_ok"] = res["ok"] == stored
    res["count_explained"] = res["ok"] <= stored <= res["ok"] + res["in_flight_at_stop"]


# --------------------------------------------------------------------------------------------
# workloads 3-5


async def workload_long(api: Api, run_id: str, sz: dict) -> dict:
    """1,000,000 points of one metric in log-batch calls of 1,000, from a few concurrent
    clients. Bodies are serialised before the clock starts, so Python's JSON encoder is
    not what is measured."""
    n, b = sz["long_points"], sz["batch"]
    t_base = 1_700_000_000_000
    bodies = [json.dumps({"run_id": run_id, "metrics": [
        {"key": "long", "value": (j % 977) * 0.001, "timestamp": t_base + j, "step": j} for j in range(off, min(n, off + b))
    ]}).encode() for off in range(0, n, b)]
    it = iter(bodies)
    sent = 0
    t0 = time.monotonic()
    deadline = t0 + sz["budget_s"] if sz["budget_s"] else float("inf")

    async def client():
        nonlocal sent
        for body in it:
            if time.monotonic() > deadline:
                return
            async with api.s.post(api.base + API + "/runs/log-batch", data=body, headers=JSON_H) as r:
                text = await r.text()
                if r.status != 200:
                    raise ApiError(f"log-batch -> HTTP {r.status}: {text[:300]}")
            sent += body.count(b'"key"')

    await asyncio.gather(*[client() for _ in range(sz["long_clients"])])
    dt = time.monotonic() - t0
    res = dict(points=sent, batch=b, clients=sz["long_clients"], seconds=dt, points_per_s=sent / dt,
               batches_per_s=(sent / b) / dt)
    if sent < n:
        res["budget_hit"] = f"stopped after the {sz['budget_s']} s budget: {sent} of {n} points"
    return res


TOKEN_RE = re.compile(rb'"next_page_token"\s*:\s*"([^"]*)"')


def next_token(body: bytes) -> str | None:
    """A page's next_page_token, read without decoding the page (it usually ends it)."""
    m = TOKEN_RE.search(body[-2000:]) or TOKEN_RE.search(body)
    return m.group(1).decode() if m and m.group(1) else None


async def timed(fn, calls: int) -> tuple[list[float], object]:
    ts, last = [], None
    for _ in range(calls):
        t0 = time.monotonic()
        last = await fn()
        ts.append(time.monotonic() - t0)
    return ts, last


SEARCH_A = dict(filter="params.p0 = 'adam' AND metrics.m0 > 0.5", order_by=["metrics.m1 DESC"], max_results=100)
SEARCH_B = dict(filter="tags.t0 LIKE 'team-1%'", order_by=["params.p1 ASC"], max_results=100)
COLUMNS = ["metrics.m0", "params.p0", "tags.t0"]
def expected_a(indices: list[int]) -> list[str]:
    """The run names search (a) must return over the runs ingested, computed from the
    generated data."""
    rows = []
    for i in indices:
        params, _, metrics = run_payload(i)
        last = {m["key"]: m["value"] for m in metrics if m["step"] == 19}
        if params[0]["value"] == "adam" and last["m0"] > 0.5:
            rows.append((last["m1"], f"run-{i:06d}"))
    rows.sort(key=lambda r: -r[0])
    return [name for _, name in rows[:100]]


async def workload_search(api: Api, exp_id: str, sz: dict, n_ingested: int, which: str) -> dict:
    base = {"experiment_ids": [exp_id]}
    if which in ("a", "b", "d"):
        body = dict(base, **(SEARCH_B if which == "b" else SEARCH_A))
        if which == "d":
            body["columns"] = COLUMNS
        ts, raw = await timed(lambda: api.post_raw("/runs/search", body), sz["search_calls"])
        runs = json.loads(raw).get("runs", [])
        res = dict(p50_ms=statistics.median(ts) * 1000, max_ms=max(ts) * 1000, calls=len(ts), returned=len(runs))
        names = [x["info"].get("run_name") for x in runs]
        if which in ("a", "d"):
            res["run_names"] = names
        if which == "d":
            keys = sorted({f"{kind}.{kv['key']}" for x in runs for kind in ("metrics", "params", "tags")
                           for kv in x.get("data", {}).get(kind, []) if not kv["key"].startswith("mlflow.")})
            res["returned_keys"] = keys
            if set(keys) - set(COLUMNS):
                res["warning"] = f"projection returned extra keys: {sorted(set(keys) - set(COLUMNS))}"
        if which == "b":
            vals = [next((p["value"] for p in x["data"].get("params", []) if p["key"] == "p1"), None) for x in runs]
            tagok = all(next((t["value"] for t in x["data"].get("tags", []) if t["key"] == "t0"), "").startswith("team-1") for x in runs)
            # ascending string order of p1 values
            if vals != sorted(vals, key=lambda v: (v is None, v)) or not tagok:
                res["warning"] = "search (b) result not filtered/ordered as requested"
        return res
    # (c) walk all runs in pages; the token is found without decoding the page (as for
    # get-history), the pages are decoded and checked after the clock stops.
    t0 = time.monotonic()
    token, bodies = None, []
    while True:
        body = dict(base, max_results=sz["walk_page"])
        if token:
            body["page_token"] = token
        raw = await api.post_raw("/runs/search", body)
        bodies.append(raw)
        token = next_token(raw)
        if not token or len(bodies) > 10_000:
            break
    dt = time.monotonic() - t0
    total, pages, ids = 0, len(bodies), set()
    for raw in bodies:
        runs = json.loads(raw).get("runs", [])
        total += len(runs)
        ids.update(x["info"]["run_id"] for x in runs)
    res = dict(seconds=dt, runs=total, distinct=len(ids), pages=pages, runs_per_s=total / dt)
    if total != n_ingested or len(ids) != total:
        res["warning"] = f"walk returned {total} runs ({len(ids)} distinct), {n_ingested} were ingested"
    return res


async def history_raw(api: Api, run_id: str, key: str, page: int) -> list[bytes]:
    """Every page of a history as raw bytes, following next_page_token, which is found
    without decoding the page: the clock then measures the server, not Python's JSON."""
    bodies, token = [], None
    while True:
        params = {"run_id": run_id, "metric_key": key, "max_results": str(page)}
        if token:
            params["page_token"] = token
        async with api.s.get(api.base + API + "/metrics/get-history", params=params) as r:
            body = await r.read()
            if r.status != 200:
                raise ApiError(f"get-history -> HTTP {r.status}: {body[:300]!r}")
        bodies.append(body)
        token = next_token(body)
        if not token or len(bodies) > 100_000:
            return bodies


async def workload_history(api: Api, run_id: str, sz: dict) -> dict:
    h = sz["hist_points"]

    async def read_all():
        bodies = await history_raw(api, run_id, "hist", sz["hist_page"])
        return bodies
    ts, bodies = await timed(read_all, sz["hist_calls"])
    pts, pages = sum(len(json.loads(b).get("metrics", [])) for b in bodies), len(bodies)
    res = dict(p50_s=statistics.median(ts), max_s=max(ts), points=pts, pages=pages, page_size=sz["hist_page"],
               points_per_s=pts / statistics.median(ts), calls=len(ts))
    if pts != h:
        res["warning"] = f"get-history returned {pts} points, {h} were logged"
    return res


async def workload_bulk(api: Api, run_ids: list[str], sz: dict) -> dict:
    params = [("run_ids", r) for r in run_ids] + [("metric_key", "m0"), ("max_results", "2500")]
    ts, r = await timed(lambda: api.get("/metrics/get-history-bulk-interval", params), sz["bulk_calls"])
    got = len(r.get("metrics", []))
    res = dict(p50_ms=statistics.median(ts) * 1000, max_ms=max(ts) * 1000, runs=len(run_ids), points=got, calls=len(ts))
    if got != 20 * len(run_ids):
        res["warning"] = f"bulk-interval returned {got} points, expected {20 * len(run_ids)}"
    return res


NEXT_RE = re.compile(rb'<a href="([^"]+)" rel="next"')
ROW_RE = re.compile(rb'<tr[ >]')


async def page_get(api: Api, path: str) -> tuple[bytes, dict]:
    async with api.s.get(api.base + path) as r:
        body = await r.read()
        if r.status != 200:
            raise ApiError(f"GET {path} -> HTTP {r.status}: {body[:300]!r}")
        return body, dict(r.headers)


async def workload_ui(api: Api, exp_id: str, long_run: str, sz: dict) -> dict:
    """ferroflow's web UI, as a browser asks for it: the runs grid's first page rendered on
    the server, the page after it (by the grid's own Next link), and the plot of the long
    history (workload 3) as the server-rendered SVG."""
    first = f"/experiments/{exp_id}"
    ts_first, (html, _) = await timed(lambda: page_get(api, first), sz["search_calls"])
    m = NEXT_RE.search(html)
    if not m:
        raise ApiError("the grid's first page has no Next link")
    nxt = m.group(1).decode().replace("&amp;", "&")
    ts_next, (html2, _) = await timed(lambda: page_get(api, nxt), sz["search_calls"])
    plot = f"/plot.svg?runs={long_run}&keys=long"
    ts_plot, (svg, headers) = await timed(lambda: page_get(api, plot), sz["search_calls"])
    res = dict(first_p50_ms=statistics.median(ts_first) * 1000, first_max_ms=max(ts_first) * 1000,
               next_p50_ms=statistics.median(ts_next) * 1000, next_max_ms=max(ts_next) * 1000,
               plot_p50_ms=statistics.median(ts_plot) * 1000, plot_max_ms=max(ts_plot) * 1000,
               first_rows=len(ROW_RE.findall(html)), next_rows=len(ROW_RE.findall(html2)),
               plot_bytes=len(svg), downsampled=headers.get("x-ferroflow-downsampled"), calls=len(ts_first))
    problems = []
    if html == html2:
        problems.append("the next page is the first page again")
    if b"<svg" not in svg:
        problems.append("the plot is not an SVG")
    if sz["long_points"] > 2000 and res["downsampled"] != "true":
        problems.append(f"a {sz['long_points']}-point history was not downsampled")
    if problems:
        res["warning"] = "; ".join(problems)
    return res


# --------------------------------------------------------------------------------------------
# one server


def err(e: BaseException) -> dict:
    return {"error": f"{type(e).__name__}: {e}"[:1000]}


async def run_async_part(srv: Server, sz: dict, fn_name: str, *args):
    async with session(8) as s:
        api = Api(s, srv.base)
        return await globals()[fn_name](api, *args)


def bench_server(name: str, args, sz: dict, workdir: Path) -> dict:
    out: dict = {"version": version_of(name, args.ferroflow_bin)}
    srv = None
    try:
        srv = Server(name, args.backend, args.ferroflow_bin, workdir)
        out["command"] = " ".join(srv.cmd)
        print(f"\n== {name} ({out['version']}) on {srv.base}, {args.backend}: {srv.uri}", flush=True)
        out["startup_s"] = srv.start()
        print(f"  ready after {out['startup_s']:.1f}s", flush=True)
    except Exception as e:
        out["error"] = f"could not start: {e}"
        print(f"  FAILED to start: {e}", flush=True)
        if srv:
            srv.stop()
        return out

    results: dict = {}
    out["workloads"] = results

    def step(label: str, fn):
        if not srv.alive():
            results[label] = {"error": f"server process died earlier: {srv.log_tail()}"}
            print(f"  {label}: skipped, server died", flush=True)
            return None
        t0 = time.monotonic()
        srv.sampler.window_peak_rss = 0
        try:
            r = fn()
        except Exception as e:
            r = err(e)
            if not srv.alive():
                r["error"] += f" (server died: {srv.log_tail(300)})"
        r["rss_peak_mb"] = srv.sampler.window_peak_rss / 2**20
        results[label] = r
        brief = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items() if k not in ("run_names", "returned_keys", "indices")}
        print(f"  {label} [{time.monotonic() - t0:.1f}s]: {json.dumps(brief)[:400]}", flush=True)
        return r

    def arun(coro_fn):
        async def wrapper():
            async with session(8) as s:
                return await coro_fn(Api(s, srv.base))
        return asyncio.run(wrapper())

    try:
        ids = arun(lambda api: _setup(api))
        ing = step("ingest", lambda: workload_ingest(srv, ids["ingest_exp"], sz))
        n_ing = ing.get("runs", 0) if ing else 0
        if ing and "error" not in ing:
            for w in ("a", "b", "c", "d"):
                if w == "d" and name != "ferroflow":
                    results["search_d"] = {"na": "column projection is a ferroflow extension"}
                    continue
                step(f"search_{w}", lambda w=w: arun(lambda api: workload_search(api, ids["ingest_exp"], sz, n_ing, w)))
            sa, sd = results.get("search_a", {}), results.get("search_d", {})
            if "run_names" in sa:
                want = expected_a(ing["indices"])
                sa["matches_expected"] = sa["run_names"] == want
                if not sa["matches_expected"]:
                    sa["warning"] = (f"search (a) returned {len(sa['run_names'])} runs, first {sa['run_names'][:3]}; expected "
                                     f"{len(want)} runs computed from the generated data, first {want[:3]}")
            if "run_names" in sd and "run_names" in sa and sd["run_names"] != sa["run_names"]:
                sd["warning"] = "projected search returned different runs than the same search without projection"
        else:
            for w in "abcd":
                results[f"search_{w}"] = {"error": "skipped: ingest failed"}

        rate = step("rate", lambda: workload_rate(srv, ids["rate_run"], sz, workdir))
        if rate and "error" not in rate:
            try:
                arun(lambda api: rate_check(api, ids["rate_run"], rate))
            except Exception as e:
                rate["stored_error"] = f"{type(e).__name__}: {e}"
            print(f"  rate check: 200s={rate.get('ok')} stored={rate.get('stored')} in-flight-at-stop={rate.get('in_flight_at_stop')} "
                  f"non200={rate.get('non200')} {rate.get('stored_error', '')}", flush=True)
        step("long_history", lambda: arun(lambda api: workload_long(api, ids["long_run"], sz)))
        if name == "ferroflow":
            step("ui", lambda: arun(lambda api: workload_ui(api, ids["ingest_exp"], ids["long_run"], sz)))
        else:
            results["ui"] = {"na": "ferroflow's own web UI"}

        def hist():
            arun(lambda api: log_points(api, ids["hist_run"], "hist", sz["hist_points"], sz["batch"]))
            return arun(lambda api: workload_history(api, ids["hist_run"], sz))
        step("get_history", hist)

        def bulk():
            async def first_runs(api):
                r = await api.post("/runs/search", {"experiment_ids": [ids["ingest_exp"]], "max_results": sz["bulk_runs"]})
                return [x["info"]["run_id"] for x in r.get("runs", [])]
            rids = arun(first_runs)
            if not rids:
                raise ApiError("no ingested runs to read")
            return arun(lambda api: workload_bulk(api, rids, sz))
        step("bulk_interval", bulk)
    except KeyboardInterrupt:
        raise
    except Exception as e:
        out["error"] = f"{type(e).__name__}: {e}"
        traceback.print_exc()
    finally:
        if srv.alive():
            srv.sampler.sample()
        out["peak_rss_mb"] = srv.sampler.peak_rss / 2**20
        out["peak_processes"] = srv.sampler.peak_procs
        out["server_cpu_s"] = srv.sampler.cpu_seconds()
        out["died"] = not srv.alive()
        srv.stop()
        print(f"  peak RSS {out['peak_rss_mb']:.0f} MiB over {out['peak_processes']} process(es); stopped", flush=True)
    return out


async def _setup(api: Api) -> dict:
    ids = {"ingest_exp": await create_experiment(api, "bench-ingest")}
    other = await create_experiment(api, "bench-other")
    ids["rate_run"] = await create_run(api, other, "rate")
    ids["long_run"] = await create_run(api, other, "long-history")
    ids["hist_run"] = await create_run(api, other, "history-read")
    return ids


# --------------------------------------------------------------------------------------------
# table


def fmt(v: float | None, unit: str = "") -> str:
    if v is None:
        return "-"
    if v >= 100:
        s = f"{v:,.0f}"
    elif v >= 10:
        s = f"{v:.1f}"
    else:
        s = f"{v:.2f}"
    return s + unit


ROWS = [
    # label, workload, field, higher_is_better, unit
    ("1 ingest: runs ingested (= searched)", "ingest", "runs", None, ""),
    ("1 ingest: runs/s", "ingest", "runs_per_s", True, ""),
    ("1 ingest: metric points/s", "ingest", "points_per_s", True, ""),
    ("2 log-metric: requests/s", "rate", "requests_per_s", True, ""),
    ("2 log-metric: p50 latency", "rate", "p50_ms", False, " ms"),
    ("2 log-metric: p99 latency", "rate", "p99_ms", False, " ms"),
    ("3 long history: points logged", "long_history", "points", None, ""),
    ("3 long history: points/s", "long_history", "points_per_s", True, ""),
    ("4a search param+metric filter: p50", "search_a", "p50_ms", False, " ms"),
    ("4a search param+metric filter: max", "search_a", "max_ms", False, " ms"),
    ("4b search tag LIKE, order by param: p50", "search_b", "p50_ms", False, " ms"),
    ("4b search tag LIKE, order by param: max", "search_b", "max_ms", False, " ms"),
    ("4c walk all runs (pages of 1000): total", "search_c", "seconds", False, " s"),
    ("4d search (a) + column projection: p50", "search_d", "p50_ms", False, " ms"),
    ("4d search (a) + column projection: max", "search_d", "max_ms", False, " ms"),
    ("5 get-history, all pages: p50", "get_history", "p50_s", False, " s"),
    ("5 get-history, all pages: max", "get_history", "max_s", False, " s"),
    ("5 bulk-interval 100 runs: p50", "bulk_interval", "p50_ms", False, " ms"),
    ("5 bulk-interval 100 runs: max", "bulk_interval", "max_ms", False, " ms"),
    ("6 peak RSS (all processes)", None, "peak_rss_mb", False, " MiB"),
    ("7 UI runs grid, first page: p50", "ui", "first_p50_ms", False, " ms"),
    ("7 UI runs grid, next page: p50", "ui", "next_p50_ms", False, " ms"),
    ("7 UI plot of the long history: p50", "ui", "plot_p50_ms", False, " ms"),
]


def cell(res: dict, wl: str | None, field: str, unit: str) -> tuple[str, float | None]:
    if "error" in res and "workloads" not in res:
        return "ERR", None
    if wl is None:
        v = res.get(field)
        return fmt(v, unit), v
    r = res.get("workloads", {}).get(wl)
    if r is None:
        return "-", None
    if "na" in r:
        return "n/a", None
    if "error" in r:
        return "ERR", None
    v = r.get(field)
    flag = ""
    if r.get("warning") or r.get("errors") or r.get("failed_runs") or r.get("non200") or r.get("count_explained") is False:
        flag = " !"
    return fmt(v, unit) + flag, v


def table(all_res: dict, servers: list[str]) -> str:
    others = [s for s in servers if s != "ferroflow"]
    head = ["workload"] + servers + ([f"ferroflow vs {o}" for o in others] if "ferroflow" in servers else [])
    rows = [head]
    for label, wl, field, hib, unit in ROWS:
        cells, vals = [], {}
        for s in servers:
            c, v = cell(all_res[s], wl, field, unit)
            cells.append(c)
            vals[s] = v
        ratios = []
        if "ferroflow" in servers:
            for o in others:
                a, b = vals.get("ferroflow"), vals.get(o)
                if a and b and hib is not None:
                    ratios.append(f"{(a / b if hib else b / a):.1f}×")
                else:
                    ratios.append("-")
        rows.append([label] + cells + ratios)
    # correctness row for the request-rate workload
    cr = []
    for s in servers:
        r = all_res[s].get("workloads", {}).get("rate", {})
        cr.append(f"{r['ok']} / {r['stored']} (+{r['in_flight_at_stop']})" if "stored" in r else ("ERR" if "error" in r or "stored_error" in r else "-"))
    rows.append(["2 log-metric: 200s / stored (in flight)"] + cr + [""] * (len(head) - 1 - len(servers)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = []
    for k, r in enumerate(rows):
        lines.append("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def notes(all_res: dict, servers: list[str]) -> list[str]:
    out = []
    for s in servers:
        res = all_res[s]
        if "error" in res:
            out.append(f"{s}: ERROR {res['error']}")
        for wl, r in res.get("workloads", {}).items():
            if "error" in r:
                out.append(f"{s} / {wl}: ERROR {r['error']}")
            if r.get("warning"):
                out.append(f"{s} / {wl}: WARNING {r['warning']}")
            if r.get("budget_hit"):
                out.append(f"{s} / {wl}: {r['budget_hit']}")
            if r.get("errors"):
                out.append(f"{s} / {wl}: {r.get('failed_runs', len(r['errors']))} failed; first: {r['errors'][0]}")
            if wl == "rate":
                if "stored" in r and not r.get("count_ok"):
                    how = "explained by requests in flight when wrk stopped" if r.get("count_explained") else "MISMATCH"
                    out.append(f"{s} / rate: {r['ok']} 200-responses but {r['stored']} stored points "
                               f"({r['in_flight_at_stop']} requests in flight at stop): {how}")
                if r.get("non200"):
                    out.append(f"{s} / rate: {r['non200']} non-200 responses; first: {r.get('first_non200')}")
                if r.get("socket_errors"):
                    out.append(f"{s} / rate: wrk socket errors {r['socket_errors']}")
                if "stored_error" in r:
                    out.append(f"{s} / rate: counting stored points failed: {r['stored_error']}")
    return out


def load_notes(all_res: dict, servers: list[str]) -> list[str]:
    out = []
    for s in servers:
        w = all_res[s].get("workloads", {})
        i, r = w.get("ingest", {}), w.get("rate", {})
        parts = []
        if "driver_cpu_pct" in i:
            parts.append(f"ingest driver CPU {i['driver_cpu_pct']:.0f}% over {i['driver_procs']} processes")
        if "wrk_cpu_pct" in r:
            parts.append(f"wrk CPU {r['wrk_cpu_pct']:.0f}% ({r['wrk_threads']} threads, max {100 * r['wrk_threads']}%), "
                         f"server CPU {r['server_cpu_pct']:.0f}% during log-metric")
        peaks = [f"{wl} {r['rss_peak_mb']:.0f}" for wl, r in w.items() if r.get("rss_peak_mb")]
        if peaks:
            parts.append("peak RSS (MiB) by workload: " + ", ".join(peaks))
        if parts:
            out.append(f"{s}: " + "; ".join(parts))
    return out


# --------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--servers", default="ferroflow,mlflow,fasttrackml")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 unless ferroflow answered every workload correctly and every server started")
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds a server gets for each write workload before it stops early (0: no limit)")
    ap.add_argument("--ferroflow-bin", default=str(REPO_ROOT / "target" / "release" / "ferroflow"))
    args = ap.parse_args()
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    for s in servers:
        if s not in ("ferroflow", "mlflow", "fasttrackml"):
            ap.error(f"unknown server {s}")
    sz = sizes(args.quick)
    if args.budget is not None:
        sz["budget_s"] = args.budget

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)

    (BENCH_DIR / "results").mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="ferroflow-bench-"))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    machine = dict(cores=os.cpu_count(), loadavg_at_start=os.getloadavg(), kernel=os.uname().release)
    print(f"sizes: {json.dumps(sz)}\nmachine: {machine}\nworkdir: {workdir}", flush=True)
    all_res: dict = {}
    t_start = time.time()
    try:
        for s in servers:
            all_res[s] = bench_server(s, args, sz, workdir)
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(workdir, ignore_errors=True) if not os.environ.get("BENCH_KEEP") else None

    title = (f"ferroflow benchmark: backend={args.backend}{' --quick' if args.quick else ''}, "
             f"{machine['cores']} cores, {time.strftime('%Y-%m-%d %H:%M')}")
    tab = table(all_res, servers)
    ns = notes(all_res, servers)
    ln = load_notes(all_res, servers)
    print("\n" + title)
    print("ratios: how many times better ferroflow is (throughput: ferroflow/x; latency, time, memory: x/ferroflow); '!' = see notes\n")
    print(tab)
    print("\nversions: " + "; ".join(f"{s}: {all_res[s].get('version')}" for s in servers))
    mlw = all_res.get("mlflow", {})
    if mlw.get("peak_processes"):
        print(f"mlflow server: default workers (4 uvicorn workers); {mlw['peak_processes']} processes at peak")
    for line in ln:
        print("load: " + line)
    for line in ns:
        print("note: " + line)
    if not ns:
        print("note: no errors, warnings or count mismatches")
    for s in servers:
        for k, ws in (("run_names", ("search_a", "search_d")), ("indices", ("ingest",))):
            for w in ws:
                all_res[s].get("workloads", {}).get(w, {}).pop(k, None)
    out = BENCH_DIR / "results" / f"{stamp}-{args.backend}{'-quick' if args.quick else ''}.json"
    out.write_text(json.dumps(dict(title=title, args=vars(args), sizes=sz, machine=machine, seconds=time.time() - t_start,
                                   servers=all_res, table=tab, notes=ns, load=ln), indent=2, default=str))
    print(f"\nresults: {out}")
    if args.check:
        problems = [f"{s}: did not start" for s in servers if "workloads" not in all_res[s]]
        for wl, r in all_res.get("ferroflow", {}).get("workloads", {}).items():
            bad = {k: r[k] for k in ("error", "warning", "errors", "non200", "stored_error") if r.get(k)}
            if r.get("count_explained") is False:
                bad["count"] = f"{r['ok']} acknowledged, {r['stored']} stored"
            if bad:
                problems.append(f"ferroflow / {wl}: {bad}")
        if problems:
            print("check failed:\n  " + "\n  ".join(problems), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
