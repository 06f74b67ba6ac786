"""Benchmark: WebSocket fan-out of CryptoViz against two naive peers (issue 4).

Servers, each fed the same trades and sending frames of the same shape, one JSON
document per text frame:
- `cryptoviz`: `cryptoviz serve` (granian, one worker) with only the benchmark feeder
  enabled (feeder/wsbench_feeder.py), clients on /ws/crypto, served by the hub's own
  listener in front of granian (`server.ws_frontend`, the default);
- `cryptoviz-asgi` (on request): the same with the listener off, granian's ASGI WebSocket;
- `websockets`: a naive hub on the `websockets` library, `broadcast()` per message;
- `node`: a Node.js `ws` server, `client.send` in a loop;
- `blast`: writes a run of pre-encoded frames to each client in one call, so what it
  reaches is the load client's own ceiling (`blast-frames`, on request: one write per frame).

For each server and each client count N, on a fresh server process:
1. memory: RSS of the server with N idle subscribed clients minus RSS with none, over N;
2. throughput: `count = deliveries // N` messages published as fast as the server takes
   them; deliveries/s = N x count / (last receipt by any client - first publish);
3. latency: the same count paced at half the median rate of step 2, p50/p99 of
   receipt time - publish time over every delivery (CLOCK_REALTIME on both sides).
Every client checks it got every message, in order; a run with losses is reported as
such and never as a speed. The server runs on one core and the client on another.

The peers buffer without limit, so CryptoViz runs with `hub.send_buffer` as deep as one
run: a burst then waits in its buffers as it does in theirs, where the default (1000)
would drop the oldest trades of a client that falls that far behind (`--hub-send-buffer`).

Run with `make bench-ws` (builds the client, installs the Node peer) or, once built,
`python -m tests.benchmarks.ws.bench_ws --help`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from tests.benchmarks.ws.procs import (
    HERE,
    KNOWN_SERVERS,
    SERVERS,
    WSLOAD,
    CryptovizOptions,
    LoadClient,
    Server,
    cpu_seconds,
    send_command,
    server_spec,
    wait_done,
)

RESULTS = HERE / "results"
SUBSCRIBE = '{"action":"subscribe","type":"trades","symbol":"BTCUSDT"}'
TARGET_RATE, TARGET_P99_MS, TARGET_KIB = 150_000, 50.0, 20.0
HUB_DEFAULT_SEND_BUFFER = 1000
_VARYING = re.compile(r'"(trade_id|timestamp|seq|time)":("[^"]*"|\d+)')


class Session:
    """One server process with N subscribed clients: numbered runs over the control files."""

    def __init__(
        self, server: Server, client: LoadClient, control: Path, n: int, args: argparse.Namespace
    ) -> None:
        self.server, self.client, self.control, self.n, self.args = server, client, control, n, args
        self.run = 0
        self.stray = 0

    def measure(self, count: int, rate: float) -> dict[str, Any]:
        self.run += 1
        self.client.arm(self.run, count, self.args.idle_timeout)
        cpu = (time.monotonic(), self.server.cpu_seconds(), cpu_seconds(self.client.proc.pid))
        send_command(self.control, self.run, count, rate, self.args.batch)
        result = self.client.result()
        wall = time.monotonic() - cpu[0]
        busy = {
            "server": (self.server.cpu_seconds() - cpu[1]) / wall,
            "client": (cpu_seconds(self.client.proc.pid) - cpu[2]) / wall,
        }
        done = wait_done(self.control, self.run, timeout=self.args.idle_timeout)
        extra, self.stray = result["stray_frames"] - self.stray, result["stray_frames"]
        ok = done is not None and result["missing"] == result["out_of_order"] == extra == 0
        out = {
            "run": self.run,
            "count": count,
            "paced_msgs_per_s": rate,
            "ok": ok,
            **{k: result.get(k) for k in ("received", "missing", "out_of_order", "timed_out", "frame_bytes")},
            "extra_frames": extra,
            "closed_connections": result.get("closed_connections"),
            "cpu_busy": busy,
            "latency_us": result.get("latency_us"),
            "sample": result.get("sample"),
        }
        if done is not None and result["received"]:
            seconds = (result["last_recv_us"] - done.first_us) / 1e6
            out["seconds"] = seconds
            out["deliveries_per_s"] = self.n * count / seconds if ok else None
            if done.published > 1 and done.last_us > done.first_us:
                out["published_msgs_per_s"] = (done.published - 1) / ((done.last_us - done.first_us) / 1e6)
        if not ok:
            out["note"] = self._resync(done is None)
        return out

    def _resync(self, unfinished: bool) -> str:
        """After a bad run, let the feeder finish and late frames land before the next run."""
        note = "feeder finished in time"
        if unfinished:
            started = time.monotonic()
            if wait_done(self.control, self.run, timeout=120) is None:
                raise RuntimeError(f"the feeder did not finish run {self.run} within 120 s")
            note = f"feeder finished {time.monotonic() - started:.1f}s after the client gave up"
        late = -1
        while late != self.stray:
            late, self.stray = self.stray, self.client.stats()["stray_frames"]
            time.sleep(1)
        return note


def run_session(name: str, n: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Start `name`, measure memory, throughput and latency with n clients, stop it."""
    control = workdir / f"{name}-{n}"
    control.mkdir()
    port = _free_port()
    server = Server(
        server_spec(name, port, control, CryptovizOptions(args.cryptoviz_plugins, _send_buffer(n, args))),
        port,
        args.server_cpu,
        workdir / f"{name}-{n}.log",
    )
    record: dict[str, Any] = {"server": name, "clients": n}
    try:
        server.wait_listening()
        time.sleep(args.settle)
        rss_before = server.rss_kib()
        client = LoadClient(server.url, n, args.client_cpu, SUBSCRIBE)
        try:
            record["connect_seconds"] = client.ready()["seconds"]
            time.sleep(args.settle)
            rss_idle = server.rss_kib()
            record |= {"rss_kib_before": rss_before, "rss_kib_idle": rss_idle}
            record["kib_per_idle_connection"] = (rss_idle - rss_before) / n
            _measure(Session(server, client, control, n, args), record, args)
        finally:
            client.quit()
    except RuntimeError as exc:
        record["error"] = str(exc)
        print(f"  {name} N={n}: {exc}", flush=True)
    finally:
        server.stop()
        record["log_tail"] = _tail(workdir / f"{name}-{n}.log")
    return record


def _send_buffer(n: int, args: argparse.Namespace) -> int:
    """The hub's per-client buffer: by default as deep as a run, like the peers' unbounded ones.

    A run published faster than the hub's writers drain it then waits in the buffers, as it
    does in the peers' socket buffers, instead of meeting the slow-client policy (drop the
    oldest trades), which would make it a lossy run rather than a measure of fan-out.
    """
    depth: int = args.hub_send_buffer or max(HUB_DEFAULT_SEND_BUFFER, args.deliveries // n)
    return depth


def _measure(session: Session, record: dict[str, Any], args: argparse.Namespace) -> None:
    """Warm-up, throughput runs, then latency runs at half the median rate, into `record`."""
    name, n = record["server"], record["clients"]
    throughput: list[dict[str, Any]] = record.setdefault("throughput_runs", [])
    latency: list[dict[str, Any]] = record.setdefault("latency_runs", [])
    count = max(1, args.deliveries // n)
    session.measure(max(1, count // 5), 0.0)  # warm-up, not reported
    for _ in range(args.runs):
        throughput.append(session.measure(count, 0.0))
        _progress(name, n, "throughput", throughput[-1])
    rates = [r["deliveries_per_s"] for r in throughput if r["ok"]]
    if rates and not name.startswith("blast"):
        pace = statistics.median(rates) / 2 / n
        for _ in range(args.latency_runs):
            latency.append(session.measure(count, pace))
            _progress(name, n, "latency", latency[-1])


def _progress(name: str, n: int, kind: str, run: dict[str, Any]) -> None:
    if not run["ok"]:
        text = f"LOSSES: {run['missing']:,} missing, {run['out_of_order']:,} out of order"
        text += f", {run['extra_frames']:,} extra"
    elif kind == "throughput":
        text = f"{run['deliveries_per_s']:,.0f} deliveries/s"
    else:
        lat = run["latency_us"]
        text = f"p50 {lat['p50'] / 1000:.2f} ms, p99 {lat['p99'] / 1000:.2f} ms"
        text += f" at {run['paced_msgs_per_s']:,.0f} msg/s"
    print(f"  {name:<10} N={n:<5} {kind:<10} run {run['run']}: {text}", flush=True)


def summarise(record: dict[str, Any]) -> dict[str, Any]:
    """Medians over the good runs, and how many runs lost messages."""
    tput = record.get("throughput_runs", [])
    lat = record.get("latency_runs", [])
    good_tput = [r for r in tput if r["ok"]]
    good_lat = [r for r in lat if r["ok"]]

    def median(values: list[float]) -> float | None:
        return statistics.median(values) if values else None

    rates = [r["deliveries_per_s"] for r in good_tput]
    return {
        "server": record["server"],
        "clients": record["clients"],
        "error": record.get("error"),
        "rate_median": median(rates),
        "rate_min": min(rates, default=None),
        "rate_max": max(rates, default=None),
        "server_cpu": median([r["cpu_busy"]["server"] for r in good_tput]),
        "client_cpu": median([r["cpu_busy"]["client"] for r in good_tput]),
        "lossy_runs": sum(not r["ok"] for r in tput + lat),
        "runs": len(tput) + len(lat),
        "p50_ms": median([r["latency_us"]["p50"] / 1000 for r in good_lat]),
        "p99_ms": median([r["latency_us"]["p99"] / 1000 for r in good_lat]),
        "paced_msgs_per_s": good_lat[0]["paced_msgs_per_s"] if good_lat else None,
        "kib_per_idle_connection": record.get("kib_per_idle_connection"),
        "frame_bytes": median([r["frame_bytes"] for r in tput if r.get("frame_bytes")]),
        "sample": next((r["sample"] for r in tput if r.get("sample")), None),
    }


def print_table(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print()
    print(
        f"server pinned to core {args.server_cpu}, load client to core {args.client_cpu} (taskset);"
        f" {args.deliveries:,} deliveries per run; medians of {args.runs} throughput and"
        f" {args.latency_runs} latency runs"
    )
    if "cryptoviz" in args.servers:
        depths = ", ".join(f"{_send_buffer(n, args)} at N={n}" for n in args.clients)
        print(f"cryptoviz: hub.send_buffer {depths}")
    head = f"{'server':<13}{'N':>5}{'deliveries/s':>14}  {'min-max':<19}{'CPU srv/cli':>12}"
    head += f"{'p50 ms':>8}{'p99 ms':>8}{'at msg/s':>10}{'KiB/idle':>10}{'frame B':>9}  status"
    print(head)
    for row in rows:
        print(_row(row))
    print()
    for line in checks(rows):
        print(line)


def _row(row: dict[str, Any]) -> str:
    def num(value: float | None, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    spread = f"{row['rate_min']:,.0f}-{row['rate_max']:,.0f}" if row["rate_median"] is not None else "-"
    cpu = f"{num(row['server_cpu'], '.0%')}/{num(row['client_cpu'], '.0%')}"
    if row["error"]:
        status = f"error: {row['error'][:60]}"
    elif row["lossy_runs"]:
        status = f"LOSSES in {row['lossy_runs']} of {row['runs']} runs"
    else:
        status = "ok"
    name = f"{row['server']}*" if row["server"].startswith("blast") else row["server"]
    return (
        f"{name:<13}{row['clients']:>5}{num(row['rate_median'], ',.0f'):>14}  {spread:<19}{cpu:>12}"
        f"{num(row['p50_ms'], '.2f'):>8}{num(row['p99_ms'], '.2f'):>8}"
        f"{num(row['paced_msgs_per_s'], ',.0f'):>10}"
        f"{num(row['kib_per_idle_connection'], '.1f'):>10}{num(row['frame_bytes'], '.0f'):>9}  {status}"
    )


def checks(rows: list[dict[str, Any]]) -> list[str]:
    """The load client's ceiling, the frame shapes, and the issue's targets."""
    lines = [
        "* blast: a whole run of pre-encoded frames written to each client in one call: the load"
        " client's ceiling. blast-frames: the same, one write per frame.",
        "CPU srv/cli: share of its core each side used during the throughput runs.",
    ]
    ceiling = {r["clients"]: r["rate_median"] for r in rows if r["server"] == "blast" and r["rate_median"]}
    for row in rows:
        if row["server"].startswith("blast") or not row["rate_median"]:
            continue
        top = ceiling.get(row["clients"])
        if top and row["rate_median"] > 0.7 * top:
            lines.append(
                f"! {row['server']} N={row['clients']} reaches {row['rate_median'] / top:.0%} of the"
                " client's ceiling: its figure is a lower bound."
            )
        if row["server_cpu"] is not None and row["server_cpu"] < 0.8:
            lines.append(
                f"! {row['server']} N={row['clients']} used only {row['server_cpu']:.0%} of its core in the"
                " throughput runs: other work on that core, or waits; compare with care."
            )
        if row["client_cpu"] is not None and row["client_cpu"] > 0.9:
            lines.append(
                f"! the load client used {row['client_cpu']:.0%} of its core against {row['server']}"
                f" N={row['clients']}: that figure may be the client's limit."
            )
    shapes = {r["server"]: _VARYING.sub(r'"\1":_', r["sample"]) for r in rows if r["sample"]}
    reference = next((shapes[s] for s in ("cryptoviz", "websockets", "node") if s in shapes), None)
    for server, shape in shapes.items():
        if not server.startswith("blast") and shape != reference:
            lines.append(f"! {server} frames differ in shape from the reference: {shape}")
    if reference:
        lines.append(f"frame shape: {reference}")
    lines.extend(_targets(rows))
    return lines


def _targets(rows: list[dict[str, Any]]) -> list[str]:
    ours = [r for r in rows if r["server"] == "cryptoviz"]
    if not ours or all(r["rate_median"] is None for r in ours):
        return ["targets: no CryptoViz figures in this run."]
    lines = []
    for row in ours:
        peers = [
            r["rate_median"] or 0
            for r in rows
            if r["server"] in ("websockets", "node") and r["clients"] == row["clients"]
        ]
        rate, p99, kib = row["rate_median"] or 0, row["p99_ms"], row["kib_per_idle_connection"]
        verdicts = [
            f"rate {'met' if rate >= TARGET_RATE else 'MISSED'} (>= {TARGET_RATE:,})",
            f"ahead of peers {'yes' if peers and rate > max(peers) else 'NO'}",
            f"p99 {'met' if p99 is not None and p99 < TARGET_P99_MS else 'MISSED'}"
            f" (< {TARGET_P99_MS:.0f} ms)",
            f"memory {'met' if kib is not None and kib < TARGET_KIB else 'MISSED'} (< {TARGET_KIB:.0f} KiB)",
        ]
        lines.append(f"targets N={row['clients']}: " + ", ".join(verdicts))
    return lines


def environment(args: argparse.Namespace) -> dict[str, Any]:
    def output(*argv: str) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return ""

    ws_package = HERE / "node" / "node_modules" / "ws" / "package.json"
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "loadavg_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "granian": version("granian"),
        "websockets": version("websockets"),
        "node": output("node", "--version"),
        "ws": json.loads(ws_package.read_text())["version"] if ws_package.exists() else None,
        "go": output("go", "version"),
        "args": vars(args),
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 20) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return []


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--servers", default=",".join(SERVERS), help="comma list, in run order")
    parser.add_argument("--clients", default="100,1000", help="comma list of client counts")
    parser.add_argument("--deliveries", type=int, default=300_000, help="per run: messages = this / N")
    parser.add_argument("--runs", type=int, default=3, help="throughput runs per server and N")
    parser.add_argument("--latency-runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=50, help="most messages per publish call")
    parser.add_argument(
        "--idle-timeout", type=float, default=10.0, help="a run with no delivery for this long ends"
    )
    parser.add_argument("--settle", type=float, default=2.0, help="seconds before each RSS reading")
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    parser.add_argument(
        "--cryptoviz-plugins", default="", help="plugins enabled besides the feeder, comma list (e.g. trades)"
    )
    parser.add_argument(
        "--hub-send-buffer",
        type=int,
        default=0,
        help="CryptoViz's hub.send_buffer; default: the messages of one run (at least 1000)",
    )
    parser.add_argument("--quick", action="store_true", help="one short run of each kind, to try the harness")
    args = parser.parse_args()
    args.servers = [s for s in args.servers.split(",") if s]
    if unknown := set(args.servers) - set(KNOWN_SERVERS):
        parser.error(f"unknown servers {', '.join(sorted(unknown))}; known: {', '.join(KNOWN_SERVERS)}")
    args.clients = [int(n) for n in args.clients.split(",") if n]
    args.cryptoviz_plugins = [p for p in args.cryptoviz_plugins.split(",") if p]
    if args.quick:
        args.deliveries, args.runs, args.latency_runs, args.settle = 50_000, 1, 1, 1.0
    return args


def main() -> int:
    args = parse_args()
    if not WSLOAD.exists():
        print(f"{WSLOAD} is missing: run `make bench-ws`, which builds it", file=sys.stderr)
        return 1
    if "node" in args.servers and not (HERE / "node" / "node_modules" / "ws").exists():
        print(
            "the Node peer is not installed: run `make bench-ws` (npm ci in tests/benchmarks/ws/node)",
            file=sys.stderr,
        )
        return 1
    _raise_fd_limit()
    env = environment(args)
    records = []
    with tempfile.TemporaryDirectory(prefix="wsbench-") as tmp:
        for name in args.servers:
            for n in args.clients:
                print(f"{name} with {n} clients", flush=True)
                records.append(run_session(name, n, args, Path(tmp)))
    env["loadavg_at_end"] = os.getloadavg()
    rows = [summarise(r) for r in records]
    print_table(rows, args)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"ws-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"environment": env, "summary": rows, "sessions": records}, indent=1))
    print(f"results: {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
