"""A/B of two ferroflow builds, to tell whether a change made them faster.

    bench/.venv/bin/python bench/ab.py OLD_BINARY NEW_BINARY [--rounds 4] [--runs 8000]
        [--rate-seconds 10] [--points 500000] [--backend sqlite|postgres]
    bench/.venv/bin/python bench/ab.py OLD_BINARY NEW_BINARY --reads STORE_URI [--rounds 4]

Runs the builds alternately (OLD, NEW, NEW, OLD, ...: neither always goes first) through
bench.py's own workloads. Writes: each run on a fresh database, ingest (8 clients),
single-point log-metric (wrk, 32 connections) and a long history (4 clients). Reads
(`--reads`): each build serves the same database, one that `BENCH_KEEP=1 bench/run.sh` kept,
and answers searches (a), (b) and (a) projected, the walk and get-history. Prints one line per
run, then each figure's median and range per build. Runs of one build differ by 10-25 % on a
2-core VM, so compare medians of several rounds, and keep the machine otherwise idle.
"""
import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402


class Sampler:
    """The CPU time of one server process, which bench.workload_rate reports."""

    def __init__(self, pid: int):
        self.pid = pid

    def cpu_seconds(self) -> float:
        fields = open(f"/proc/{self.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def sample(self) -> None:
        pass


def database(backend: str, work: Path) -> tuple[str, str | None]:
    """The store URI of a fresh database, and its name if it is a PostgreSQL one."""
    if backend == "sqlite":
        return f"sqlite:///{work}/ab.db", None
    name = f"ab_{os.getpid()}_{work.name.replace('-', '_')}".lower()
    bench.psql(f"CREATE DATABASE {name}")
    return f"postgresql://postgres@127.0.0.1:5432/{name}", name


def one_run(binary: str, args) -> dict:
    work = Path(tempfile.mkdtemp(prefix="ab-"))
    port = bench.free_port()
    log = open(work / "server.log", "w")
    uri, pg_name = (args.reads, None) if args.reads else database(args.backend, work)
    server = subprocess.Popen(
        [binary, "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", uri,
         "--default-artifact-root", str(work / "artifacts"), "--gc-interval", "1000h"],
        stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/health")
                break
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError(f"{binary} exited; see {work / 'server.log'}")
                time.sleep(0.1)
        sz = bench.sizes(False)
        sz.update(ingest_runs=args.runs, long_points=args.points, rate_seconds=args.rate_seconds, budget_s=0)
        if args.reads:
            return asyncio.run(reads(base, sz))

        async def setup():
            async with bench.session(8) as s:
                api = bench.Api(s, base)
                ingest = await bench.create_experiment(api, "ingest")
                other = await bench.create_experiment(api, "other")
                return ingest, await bench.create_run(api, other, "rate"), await bench.create_run(api, other, "long")

        ingest_exp, rate_run, long_run = asyncio.run(setup())
        srv = types.SimpleNamespace(base=base, name="ab", sampler=Sampler(server.pid))
        out = {}
        if args.runs:
            out["ingest runs/s"] = bench.workload_ingest(srv, ingest_exp, sz)["runs_per_s"]
        if args.rate_seconds:
            rate = bench.workload_rate(srv, rate_run, sz, work)
            out["log-metric calls/s"] = rate["requests_per_s"]
            out["log-metric p99 ms"] = rate["p99_ms"]

        async def long():
            async with bench.session(8) as s:
                return await bench.workload_long(bench.Api(s, base), long_run, sz)

        if args.points:
            out["long history points/s"] = asyncio.run(long())["points_per_s"]
        return out
    finally:
        server.terminate()
        server.wait()
        if pg_name:
            bench.psql(f"DROP DATABASE IF EXISTS {pg_name}")
        shutil.rmtree(work, ignore_errors=True)


async def reads(base: str, sz: dict) -> dict:
    """The read workloads over a database the full benchmark left behind."""
    async with bench.session(8) as s:
        api = bench.Api(s, base)
        exp = (await api.get("/experiments/get-by-name", {"experiment_name": "bench-ingest"}))["experiment"]
        other = (await api.get("/experiments/get-by-name", {"experiment_name": "bench-other"}))["experiment"]
        found = await api.post("/runs/search", {"experiment_ids": [other["experiment_id"]],
                                                "filter": "attributes.run_name = 'history-read'"})
        hist_run = found["runs"][0]["info"]["run_id"]
        out = {}
        for which, name in (("a", "search (a)"), ("b", "search (b)"), ("d", "search (a) projected")):
            res = await bench.workload_search(api, exp["experiment_id"], sz, 0, which)
            out[f"{name} p50 ms"] = res["p50_ms"]
        walk = await bench.workload_search(api, exp["experiment_id"], sz, 0, "c")
        out["walk s"] = walk["seconds"]
        out["get-history ms"] = (await bench.workload_history(api, hist_run, sz))["p50_s"] * 1000
        return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--runs", type=int, default=8000, help="runs to ingest (0: skip)")
    ap.add_argument("--rate-seconds", type=int, default=10, help="seconds of log-metric (0: skip)")
    ap.add_argument("--points", type=int, default=500_000, help="long-history points (0: skip)")
    ap.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--reads", metavar="STORE_URI", help="time the reads over this database instead")
    args = ap.parse_args()
    builds = {"old": args.old, "new": args.new}
    results: dict[str, list[dict]] = {"old": [], "new": []}
    for r in range(args.rounds):
        order = ["old", "new"] if r % 2 == 0 else ["new", "old"]
        for name in order:
            res = one_run(builds[name], args)
            results[name].append(res)
            print(name, json.dumps({k: round(v, 2) for k, v in res.items()}), flush=True)
    print()
    for key in results["old"][0]:
        cells = []
        for name in ("old", "new"):
            xs = [r[key] for r in results[name]]
            cells.append(f"{name} {statistics.median(xs):,.1f} ({min(xs):,.1f}-{max(xs):,.1f})")
        print(f"{key:24} " + "   ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
