"""Load test of `genlab serve` on loopback: N concurrent clients for a bounded time, per model.

Starts the server as a subprocess on a free port, then for each model runs `--clients` threads that
POST /generate back to back for `--seconds`, and prints requests/s, p50/p95/p99 latency of answered
requests, the count of 503 answers (overload, with Retry-After) and of errors (anything else that is
not 200, and timeouts), and the server's peak resident memory sampled every 0.2 s with its first and
last tenth of the run (growth shows as last > first).

    PYTHONPATH=lib python benchmarks/serve_load.py --runs outputs/quick --seconds 60 --clients 8
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import threading
import time
from pathlib import Path

import httpx
import psutil

from genlab.serve.local import start_server

# Per model: the request body (besides model and seed). The DDPM uses a 20-step sampler, as documented.
REQUESTS = {"dcgan": {"n": 8, "labels": "balanced", "output": "json"},
            "ddpm": {"n": 8, "labels": "balanced", "output": "json", "sampler": "dpm++", "steps": 20}}


def start(runs: Path, workers: int, queue: int) -> tuple[subprocess.Popen, str]:
    try:
        return start_server(runs, "--workers", str(workers), "--queue", str(queue), timeout=180, capture=False)
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from None


def memory_sampler(pid: int, stop: threading.Event, out: list[float]) -> None:
    proc = psutil.Process(pid)
    while not stop.is_set():
        try:
            out.append(proc.memory_info().rss / 2**20)
        except psutil.Error:
            return
        time.sleep(0.2)


def run_load(url: str, model: str, body: dict, clients: int, seconds: float, timeout: float) -> dict:
    latencies: list[float] = []
    counts = {"ok": 0, "busy": 0, "errors": 0}
    lock = threading.Lock()
    end = time.time() + seconds

    def client(i: int) -> None:
        seed = i * 1_000_000
        with httpx.Client(timeout=timeout) as http:
            while time.time() < end:
                seed += 1
                t0 = time.perf_counter()
                try:
                    r = http.post(f"{url}/generate", json={"model": model, "seed": seed, **body})
                    status = r.status_code
                except httpx.HTTPError:
                    status = None
                dt = time.perf_counter() - t0
                with lock:
                    if status == 200:
                        counts["ok"] += 1
                        latencies.append(dt)
                    elif status == 503:
                        counts["busy"] += 1
                    else:
                        counts["errors"] += 1
                if status == 503:
                    time.sleep(0.05)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [float("nan")] * 99
    return {**counts, "rps": counts["ok"] / wall, "p50": q[49], "p95": q[94], "p99": q[98], "wall": wall}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", default="outputs/quick", help="runs folder with trained dcgan/ddpm (make book)")
    p.add_argument("--models", nargs="+", default=list(REQUESTS), choices=list(REQUESTS))
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--queue", type=int, default=4)
    p.add_argument("--timeout", type=float, default=120.0, help="client timeout: a request slower than this is an error")
    args = p.parse_args()
    runs = Path(args.runs)
    proc, url = start(runs, args.workers, args.queue)
    try:
        loaded = {m["kind"]: m["name"] for m in httpx.get(f"{url}/models").json()["models"]}
        print(f"server {url}, {args.workers} workers, queue {args.queue}; {args.clients} clients x {args.seconds:g} s "
              f"per model; threads {os.cpu_count()} CPUs")
        for kind in args.models:
            if kind not in loaded:
                print(f"{kind:6} not in {runs} (train it first)")
                continue
            memory: list[float] = []
            stop = threading.Event()
            sampler = threading.Thread(target=memory_sampler, args=(proc.pid, stop, memory))
            sampler.start()
            r = run_load(url, loaded[kind], REQUESTS[kind], args.clients, args.seconds, args.timeout)
            stop.set()
            sampler.join()
            tenth = max(1, len(memory) // 10)
            print(f"{kind:6} {r['rps']:6.2f} req/s | p50 {r['p50']:6.2f} s  p95 {r['p95']:6.2f} s  p99 {r['p99']:6.2f} s | "
                  f"200: {r['ok']}  503: {r['busy']}  errors: {r['errors']} | server RSS peak {max(memory):.0f} MiB "
                  f"(first tenth {max(memory[:tenth]):.0f}, last tenth {max(memory[-tenth:]):.0f})")
    finally:
        proc.terminate()
        proc.wait(90)


if __name__ == "__main__":
    main()
