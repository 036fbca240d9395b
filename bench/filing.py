"""Filing throughput benchmark: N unique ~100 KB PDFs filed over HTTP into a real `archive serve` process.

    .venv/bin/python bench/filing.py                       # N=2000, concurrency 4, sqlite + postgres, 3 runs
    .venv/bin/python bench/filing.py --db sqlite --concurrency 1,4,8
    .venv/bin/python bench/filing.py --workers 1,2,4 --threads 4,8     # server sweep (ARCHIVE_WEB_WORKERS/THREADS)

Every run starts a fresh server on a fresh data dir (and, for PostgreSQL, a freshly created database), files all N
documents through `POST /api/v1/documents` from `--concurrency` keep-alive client threads, and checks that every
response is 201 with a receipt checksum equal to the sha256 of the bytes sent. The figure reported is the median of
`--runs` runs. Beside it, the "physical floor": sha256sum + cp of the same files to the same filesystem + sync.

This prints figures; it asserts nothing about timing. It exits non-zero only when a run fails (a server that does not
start, or a response that is not a correct 201).
"""
from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

# Run as a script, this directory comes first on sys.path; its sibling benchmarks (e.g. bench/search.py) must not
# shadow the project's packages or third-party modules.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root, for tests.fixtures

import requests  # noqa: E402

from tests.fixtures.samples import pdf_bytes  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
ARCHIVE = VENV_BIN / "archive"
MB = 1_000_000  # figures are in decimal megabytes per second; the ratio does not depend on the unit
TARGET_DOCS_PER_S = 300.0
TARGET_FLOOR_RATIO = 0.25
SERVER_START_TIMEOUT = 60.0
LOG_TAIL_LINES = 40
NOISY_CORES = 0.25  # foreign CPU use (cores) above which a run is flagged as measured on a busy machine


class BenchError(RuntimeError):
    """A run could not be completed (the server failed, or a response was wrong)."""


# ---------------------------------------------------------------------------------------------------------------
# Inputs


PDF_OVERHEAD = len(pdf_bytes("Invoice 000000", 0))


@dataclass(frozen=True)
class Doc:
    index: int
    path: Path
    data: bytes
    checksum: str
    metadata: str


def generate_docs(directory: Path, n: int, size: int, customers: int, orders_per_customer: int) -> list[Doc]:
    directory.mkdir(parents=True, exist_ok=True)
    docs = []
    padding = max(0, size - PDF_OVERHEAD)
    for k in range(n):
        data = pdf_bytes(f"Invoice {k:06d}", padding)
        path = directory / f"invoice-{k:06d}.pdf"
        path.write_bytes(data)
        customer = k % customers
        order = (k // customers) % orders_per_customer
        metadata = json.dumps({"doc_type": "invoice", "customer": {"number": f"C-{customer}"},
                               "order": {"number": f"PO-{customer}-{order}"}})
        docs.append(Doc(k, path, data, "sha256:" + hashlib.sha256(data).hexdigest(), metadata))
    return docs


# ---------------------------------------------------------------------------------------------------------------
# Resources that must be released even on error or Ctrl-C


class Cleanup:
    """A LIFO stack of release actions, run once on exit, error or signal."""

    def __init__(self) -> None:
        self._actions: list[tuple[str, Any]] = []
        self._lock = threading.Lock()

    def push(self, label: str, action: Any) -> None:
        with self._lock:
            self._actions.append((label, action))

    def pop_run(self, action: Any) -> None:
        with self._lock:
            self._actions = [(l, a) for l, a in self._actions if a != action]  # == : bound methods are remade
        action()

    def run_all(self) -> None:
        while True:
            with self._lock:
                if not self._actions:
                    return
                label, action = self._actions.pop()
            try:
                action()
            except BaseException as exc:  # noqa: BLE001 - cleanup must go on
                print(f"  cleanup of {label} failed: {exc!r}", file=sys.stderr)


CLEANUP = Cleanup()


def temp_dir(parent: Path, prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    CLEANUP.push(f"dir {path}", lambda: shutil.rmtree(path, ignore_errors=True))
    return path


def remove_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------------
# PostgreSQL


def postgres_admin_url() -> tuple[str | None, str]:
    """The admin URL and where it came from, or (None, why not)."""
    url = os.environ.get("ARCHIVE_TEST_POSTGRES_URL")
    source = "ARCHIVE_TEST_POSTGRES_URL"
    if not url:
        try:
            out = subprocess.run(["bash", str(ROOT / "scripts" / "services.sh"), "--env"], capture_output=True,
                                 text=True, timeout=10, check=True).stdout
        except (OSError, subprocess.SubprocessError) as exc:
            return None, f"scripts/services.sh --env failed: {exc}"
        for line in out.splitlines():
            if "ARCHIVE_TEST_POSTGRES_URL=" in line:
                url = line.split("=", 1)[1].strip().strip("'\"")
        source = "scripts/services.sh --env"
    if not url:
        return None, "no ARCHIVE_TEST_POSTGRES_URL"
    from sqlalchemy import create_engine, text
    engine = create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means: not available
        return None, f"PostgreSQL at {source} is not reachable ({type(exc).__name__}: {str(exc).splitlines()[0]})"
    finally:
        engine.dispose()
    return url, source


def create_database(admin_url: str) -> tuple[str, Any]:
    """A fresh, empty database (the server migrates it); returns its URL and the action that drops it."""
    from sqlalchemy import create_engine, make_url, text
    name = f"archive_bench_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")

    def drop() -> None:
        with engine.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        engine.dispose()

    with engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    CLEANUP.push(f"database {name}", drop)
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), drop


# ---------------------------------------------------------------------------------------------------------------
# The server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PROBLEM_MARKERS = ("error", "failed", "traceback", "exception", "critical", "locked", "timeout")
EXPECTED_LINES = ("generated a master key",)  # a fresh embedded archive's normal warning


def log_problems(path: Path) -> list[str]:
    """Lines of the server log that look like errors: a run can succeed while background work fails."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    return [line for line in lines if any(m in line.lower() for m in PROBLEM_MARKERS)
            and not any(e in line for e in EXPECTED_LINES)]


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join("    | " + line for line in text.splitlines()[-lines:]) or "    | (empty)"


class Server:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self._log = None
        self._stopped = False

    def start(self) -> None:
        self._log = self.log_path.open("ab")
        # Its own session: the gunicorn arbiter and its workers form one process group we can stop by its id.
        self.proc = subprocess.Popen([str(ARCHIVE), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                                     env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True, cwd=ROOT)
        CLEANUP.push(f"server pid {self.proc.pid}", self.stop)
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"the server exited with {self.proc.returncode} before answering; "
                                 f"log {self.log_path}:\n{tail(self.log_path)}")
            try:
                if requests.get(self.base + "/api/v1/openapi.json", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise BenchError(f"the server did not answer within {SERVER_START_TIMEOUT:.0f}s; "
                         f"log {self.log_path}:\n{tail(self.log_path)}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """Stop the process group we started, once. Idempotent."""
        if self.proc is None or self._stopped:
            return
        self._stopped = True
        pgid = self.proc.pid  # the session leader we started; its group holds only the server's processes
        if self.proc.poll() is None:
            try:
                os.killpg(pgid, signal.SIGTERM)
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(pgid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        # Workers or a scheduler left behind by an arbiter that died still carry our group id, so it cannot have
        # been reused by anyone else: signal the group only while such members exist.
        if any(proc.pgrp == pgid for proc in process_snapshot().values()):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self._log is not None:
            self._log.close()
            self._log = None


CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Proc:
    name: str
    ppid: int
    pgrp: int
    ticks: int  # utime + stime
    cmdline: str


def process_snapshot() -> dict[tuple[int, int], Proc]:
    """Every process, keyed by (pid, start time) so a reused pid is not mistaken for the old process."""
    snapshot = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read().decode(errors="replace")
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        head, _, rest = stat.rpartition(")")
        fields = rest.split()  # fields[0] is stat field 3 (state): pgrp 5, utime 14, stime 15, starttime 22
        snapshot[(int(entry), int(fields[19]))] = Proc(head.partition("(")[2], int(fields[1]), int(fields[2]),
                                                       int(fields[11]) + int(fields[12]), cmdline)
    return snapshot


def cpu_between(before: dict[tuple[int, int], Proc], after: dict[tuple[int, int], Proc], select: Any) -> float:
    """CPU seconds used between two snapshots by the selected processes (those that exited in between are lost)."""
    ticks = 0
    for key, proc in after.items():
        if select(proc):
            ticks += proc.ticks - (before[key].ticks if key in before else 0)
    return ticks / CLK_TCK


def is_scheduler(proc: Proc) -> bool:
    return "scheduler" in proc.cmdline


def postgres_selector(database: str | None) -> Any:
    """Our database's backends and the cluster's shared helpers (WAL writer, checkpointer...), not other clients."""
    def select(proc: Proc) -> bool:
        if not proc.name.startswith("postgres"):
            return False
        if database and database in proc.cmdline:
            return True
        return any(helper in proc.cmdline for helper in POSTGRES_HELPERS)
    return select


POSTGRES_HELPERS = ("checkpointer", "background writer", "walwriter", "autovacuum launcher",
                    "logical replication launcher", "bin/postgres ")


def system_cpu() -> tuple[int, int, int]:
    """(total, idle, iowait) jiffies from /proc/stat."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    return sum(values[:8]), values[3], values[4]


def wait_for_quiet(max_wait: float, label: str) -> None:
    """Wait (up to max_wait seconds) until the machine's CPU use is below NOISY_CORES, sampled over 1 s."""
    if max_wait <= 0:
        return
    deadline = time.monotonic() + max_wait
    busy_cores = 0.0
    while True:
        before = system_cpu()
        time.sleep(1.0)
        after = system_cpu()
        total = (after[0] - before[0]) or 1
        busy_cores = (total - (after[1] - before[1]) - (after[2] - before[2])) / CLK_TCK
        if busy_cores <= NOISY_CORES:
            return
        if time.monotonic() >= deadline:
            print(f"  (machine still busy, {busy_cores:.2f} cores in use by others, before {label}; "
                  f"measuring anyway)", flush=True)
            return


def create_token(env: dict[str, str], log_path: Path) -> str:
    result = subprocess.run([str(ARCHIVE), "tokens", "create", "--name", "bench", "--scopes", "file,read"],
                            env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)
    with log_path.open("a") as log:
        log.write(f"--- tokens create: exit {result.returncode}\n{result.stderr}")
    if result.returncode != 0 or not result.stdout.strip():
        raise BenchError(f"`archive tokens create` failed ({result.returncode}):\n{result.stderr.strip()}")
    return result.stdout.strip().splitlines()[-1]


# ---------------------------------------------------------------------------------------------------------------
# One run


@dataclass
class RunResult:
    elapsed: float
    docs: int
    bytes_sent: int
    latencies: list[float]
    client_cpu: float
    workers_seen: int  # gunicorn worker processes found under the arbiter at the end of the run
    server_cpu: float  # gunicorn arbiter and workers
    scheduler_cpu: float  # the scheduler process `archive serve` starts beside them, if any
    system_busy: float
    system_iowait: float
    db_cpu: float  # PostgreSQL processes (any database on the cluster)
    other_cpu: float  # everything else on the machine: kernel flushers, other jobs (a busy machine skews figures)
    errors: list[str] = field(default_factory=list)
    log_problems: list[str] = field(default_factory=list)  # error/warning lines the server logged meanwhile

    @property
    def docs_per_s(self) -> float:
        return self.docs / self.elapsed

    @property
    def mb_per_s(self) -> float:
        return self.bytes_sent / MB / self.elapsed


def file_all(base: str, token: str, docs: list[Doc], concurrency: int, server: Server,
             database: str | None) -> RunResult:
    headers = {"Authorization": f"Bearer {token}"}
    next_index = itertools.count()
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors: list[str] = []
    stop = threading.Event()
    ready = threading.Barrier(concurrency + 1)
    go = threading.Event()

    def client(slot: int) -> None:
        with requests.Session() as session:
            session.headers.update(headers)
            try:  # warm the keep-alive connection, the worker and its database pool; files nothing
                session.get(base + "/api/v1/documents/00000000-0000-0000-0000-000000000000", timeout=30)
            except requests.RequestException as exc:
                errors.append(f"warm-up: {exc!r}")
                stop.set()
            ready.wait()
            go.wait()
            mine = latencies[slot]
            while not stop.is_set():
                k = next(next_index)
                if k >= len(docs):
                    return
                doc = docs[k]
                started = time.perf_counter()
                try:
                    response = session.post(base + "/api/v1/documents",
                                            files={"file": (doc.path.name, doc.data, "application/pdf")},
                                            data={"metadata": doc.metadata}, timeout=300)
                except requests.RequestException as exc:
                    errors.append(f"doc {k}: {exc!r}")
                    stop.set()
                    return
                mine.append(time.perf_counter() - started)
                problem = check_receipt(response, doc)
                if problem:
                    errors.append(f"doc {k}: {problem}")
                    if len(errors) >= 10:
                        stop.set()

    threads = [threading.Thread(target=client, args=(slot,), daemon=True, name=f"client-{slot}")
               for slot in range(concurrency)]
    for thread in threads:
        thread.start()
    ready.wait()
    procs0, client_cpu0, sys0 = process_snapshot(), time.process_time(), system_cpu()
    started = time.perf_counter()
    go.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    procs1, client_cpu1, sys1 = process_snapshot(), time.process_time(), system_cpu()
    pgid = server.proc.pid if server.proc else -1
    server_cpu = cpu_between(procs0, procs1, lambda p: p.pgrp == pgid and not is_scheduler(p))
    scheduler_cpu = cpu_between(procs0, procs1, lambda p: p.pgrp == pgid and is_scheduler(p))
    db_cpu = cpu_between(procs0, procs1, postgres_selector(database))
    client_cpu = client_cpu1 - client_cpu0
    workers_seen = sum(1 for key, p in procs1.items()
                       if p.ppid == pgid and p.pgrp == pgid and key[0] != pgid and not is_scheduler(p))
    busy_cpu = (total_jiffies(sys0, sys1) - (sys1[1] - sys0[1]) - (sys1[2] - sys0[2])) / CLK_TCK
    total = total_jiffies(sys0, sys1)
    done = [x for per in latencies for x in per]
    return RunResult(elapsed=elapsed, docs=len(done), bytes_sent=sum(len(d.data) for d in docs[:len(done)]),
                     latencies=done, client_cpu=client_cpu, server_cpu=server_cpu, scheduler_cpu=scheduler_cpu,
                     workers_seen=workers_seen,
                     system_busy=busy_cpu * CLK_TCK / total, system_iowait=(sys1[2] - sys0[2]) / total,
                     db_cpu=db_cpu,
                     other_cpu=max(0.0, busy_cpu - server_cpu - scheduler_cpu - client_cpu - db_cpu),
                     errors=errors)


def total_jiffies(before: tuple[int, int, int], after: tuple[int, int, int]) -> int:
    return (after[0] - before[0]) or 1


def make_url_database(url: str | None) -> str | None:
    if not url:
        return None
    from sqlalchemy import make_url
    return make_url(url).database


def check_receipt(response: requests.Response, doc: Doc) -> str | None:
    if response.status_code != 201:
        return f"HTTP {response.status_code}: {response.text[:300]}"
    try:
        receipt = response.json()
    except ValueError:
        return f"201 without a JSON receipt: {response.text[:300]}"
    if receipt.get("checksum") != doc.checksum:
        return f"receipt checksum {receipt.get('checksum')} != sent {doc.checksum}"
    if receipt.get("size") != len(doc.data):
        return f"receipt size {receipt.get('size')} != sent {len(doc.data)}"
    return None


@dataclass(frozen=True)
class Config:
    backend: str
    concurrency: int
    workers: int | None
    threads: int | None

    def server_label(self) -> str:
        return f"{self.workers if self.workers else 'def'}x{self.threads if self.threads else 'def'}"


def one_run(config: Config, docs: list[Doc], work: Path, logs: Path, admin_url: str | None,
            run_no: int, extra_env: dict[str, str]) -> RunResult:
    data_dir = temp_dir(work, f"data-{config.backend}-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    env.update(extra_env)
    env["ARCHIVE_DATA_DIR"] = str(data_dir)
    if config.workers:
        env["ARCHIVE_WEB_WORKERS"] = str(config.workers)
    if config.threads:
        env["ARCHIVE_WEB_THREADS"] = str(config.threads)
    drop_db = None
    if config.backend == "postgres":
        assert admin_url is not None
        env["ARCHIVE_DATABASE_URL"], drop_db = create_database(admin_url)
    log_path = logs / f"server-{config.backend}-c{config.concurrency}-{config.server_label()}-run{run_no}.log"
    server = Server(env, log_path)
    try:
        subprocess.run(["sync"], check=False)  # do not charge this run for the previous run's dirty pages
        server.start()
        token = create_token(env, log_path)
        database = make_url_database(env.get("ARCHIVE_DATABASE_URL"))
        result = file_all(server.base, token, docs, config.concurrency, server, database)
        if not server.alive():
            raise BenchError(f"the server died during the run; log {log_path}:\n{tail(log_path)}")
        if result.errors:
            shown = "\n".join("    " + e for e in result.errors[:10])
            raise BenchError(f"{len(result.errors)} filings failed (first {min(10, len(result.errors))}):\n"
                             f"{shown}\n  server log {log_path}:\n{tail(log_path)}")
        if result.docs != len(docs):
            raise BenchError(f"only {result.docs} of {len(docs)} documents were filed")
        result.log_problems = log_problems(log_path)
        return result
    finally:
        CLEANUP.pop_run(server.stop)
        if drop_db is not None:
            CLEANUP.pop_run(drop_db)
        remove_dir(data_dir)


# ---------------------------------------------------------------------------------------------------------------
# The physical floor


def chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def floor_once(docs: list[Doc], work: Path, quiet_wait: float = 0.0) -> float:
    wait_for_quiet(quiet_wait, "a floor run")
    files = [str(d.path) for d in docs]
    target = temp_dir(work, "floor-")
    subprocess.run(["sync"], check=True)
    started = time.perf_counter()
    for part in chunks(files):
        subprocess.run(["sha256sum", "--", *part], check=True, stdout=subprocess.DEVNULL)
    for part in chunks(files):
        subprocess.run(["cp", "--", *part, str(target)], check=True)
    subprocess.run(["sync"], check=True)
    elapsed = time.perf_counter() - started
    remove_dir(target)
    return elapsed


# ---------------------------------------------------------------------------------------------------------------
# Report


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def int_list(text: str) -> list[int]:
    values = [int(v) for v in text.split(",") if v.strip()]
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("a comma-separated list of positive integers")
    return values


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="documents per run (default 2000)")
    parser.add_argument("--size-kb", type=int, default=100, help="approximate size of each PDF in KiB (100)")
    parser.add_argument("--concurrency", type=int_list, default=[4],
                        help="client threads; a comma list runs each (default 4)")
    parser.add_argument("--runs", type=int, default=3, help="runs per configuration; the median is reported (3)")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--workers", type=int_list, default=None,
                        help="ARCHIVE_WEB_WORKERS for the server; a comma list sweeps (default: settings default)")
    parser.add_argument("--threads", type=int_list, default=None,
                        help="ARCHIVE_WEB_THREADS for the server; a comma list sweeps (default: settings default)")
    parser.add_argument("--customers", type=int, default=50, help="distinct customers the documents spread over")
    parser.add_argument("--orders-per-customer", type=int, default=4)
    parser.add_argument("--server-env", action="append", default=[], metavar="ARCHIVE_X=VALUE",
                        help="extra environment for the server and the token command (repeatable), "
                             "e.g. ARCHIVE_ENCRYPTION=off")
    parser.add_argument("--quiet-wait", type=float, default=0.0,
                        help="before each run, wait up to this many seconds for other processes to go idle (0)")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="parent of the temp dirs (default: the system temp dir)")
    parser.add_argument("--log-dir", type=Path, default=None,
                        help="where server logs are kept (default: a new temp dir, kept after the run)")
    args = parser.parse_args(argv)
    for item in args.server_env:
        if "=" not in item or not item.split("=", 1)[0]:
            parser.error(f"--server-env wants NAME=VALUE, got {item!r}")
    if args.n < 1 or args.runs < 1 or args.customers < 1 or args.orders_per_customer < 1:
        parser.error("--n, --runs, --customers and --orders-per-customer must be positive")
    return args


def code_version() -> str:
    """The commit, plus a fingerprint of uncommitted changes: the archive under test may be changing under us."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                              timeout=30).stdout
    try:
        head = git("rev-parse", "--short", "HEAD").strip()
        diff = git("diff", "HEAD", "--", ".", ":(exclude)bench")
        untracked = git("ls-files", "--others", "--exclude-standard", "--", ".", ":(exclude)bench")
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    if not diff and not untracked:
        return head or "unknown"
    fingerprint = hashlib.sha256((diff + untracked).encode()).hexdigest()[:8]
    return f"{head or 'unknown'} + uncommitted changes #{fingerprint}"


def settings_default(name: str) -> int:
    sys.path.insert(0, str(ROOT))
    from config.settings import Settings
    return getattr(Settings(), name)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not ARCHIVE.exists():
        print(f"missing {ARCHIVE}; install the project into .venv first", file=sys.stderr)
        return 2

    def on_term(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    backends = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    admin_url = None
    notes: list[str] = []
    if "postgres" in backends:
        admin_url, why = postgres_admin_url()
        if admin_url is None:
            note = f"postgres skipped: {why} (run `bash scripts/services.sh`)"
            print(f"NOTE: {note}")
            notes.append(note)
            backends.remove("postgres")
    if not backends:
        print("nothing to run")
        return 0

    work_parent = args.work_dir or Path(tempfile.gettempdir())
    work_parent.mkdir(parents=True, exist_ok=True)
    logs = args.log_dir or Path(tempfile.mkdtemp(prefix="archive-bench-logs-"))
    logs.mkdir(parents=True, exist_ok=True)
    default_threads = settings_default("web_threads")
    extra_env = dict(item.split("=", 1) for item in args.server_env)
    code_at_start = code_version()
    print(f"code: {code_at_start}" + (f"; server env {extra_env}" if extra_env else ""), flush=True)
    failed = False
    rows: list[dict[str, Any]] = []
    try:
        work = temp_dir(work_parent, "archive-bench-")
        size = args.size_kb * 1024
        print(f"generating {args.n} unique PDFs of {size} bytes in {work / 'inputs'} ...", flush=True)
        docs = generate_docs(work / "inputs", args.n, size, args.customers, args.orders_per_customer)
        total_bytes = sum(len(d.data) for d in docs)
        print(f"  {total_bytes / MB:.1f} MB over {args.customers} customers x {args.orders_per_customer} orders; "
              f"{os.cpu_count()} CPUs; server logs in {logs}", flush=True)

        floors = [floor_once(docs, work, args.quiet_wait) for _ in range(args.runs)]
        floor_s = statistics.median(floors)
        floor_mbs = total_bytes / MB / floor_s
        print(f"floor (sha256sum + cp + sync of {args.n} files): "
              + ", ".join(f"{total_bytes / MB / s:.0f}" for s in floors)
              + f" MB/s -> median {floor_mbs:.1f} MB/s ({args.n / floor_s:.0f} files/s)", flush=True)

        configs = [Config(backend, c, w, t) for backend in backends for w in (args.workers or [None])
                   for t in (args.threads or [None]) for c in args.concurrency]
        for config in configs:
            threads = config.threads or default_threads
            asked = f"ARCHIVE_WEB_WORKERS={config.workers}" if config.workers else "default workers"
            print(f"\n{config.backend}, concurrency {config.concurrency}, server {asked} x {threads} threads:",
                  flush=True)
            results: list[RunResult] = []
            try:
                for run_no in range(1, args.runs + 1):
                    wait_for_quiet(args.quiet_wait, f"run {run_no}")
                    result = one_run(config, docs, work, logs, admin_url, run_no, extra_env)
                    results.append(result)
                    lat = result.latencies
                    print(f"  run {run_no} ({result.workers_seen} worker processes): {result.docs_per_s:7.1f} docs/s {result.mb_per_s:6.1f} MB/s  "
                          f"latency p50 {percentile(lat, .5) * 1e3:.1f} ms p95 {percentile(lat, .95) * 1e3:.1f} ms "
                          f"p99 {percentile(lat, .99) * 1e3:.1f} ms  CPU ms/doc: server "
                          f"{result.server_cpu / result.docs * 1e3:.2f} ms, scheduler "
                          f"{result.scheduler_cpu / result.docs * 1e3:.2f} ms, client "
                          f"{result.client_cpu / result.docs * 1e3:.2f} ms, postgres "
                          f"{result.db_cpu / result.docs * 1e3:.2f} ms, other "
                          f"{result.other_cpu / result.docs * 1e3:.2f} ms; system busy "
                          f"{result.system_busy:.0%} iowait {result.system_iowait:.0%}", flush=True)
                    if result.log_problems:
                        print(f"  WARNING: the server logged {len(result.log_problems)} error lines during this run "
                              f"(log in {logs}), e.g.:\n" + "\n".join("    | " + line[:200]
                                                                         for line in result.log_problems[:3]),
                              flush=True)
                    now = code_version()
                    if now != code_at_start:
                        print(f"  WARNING: the code under test changed during the benchmark: {code_at_start} -> "
                              f"{now}", flush=True)
                        code_at_start = now
                    if result.other_cpu / result.elapsed > NOISY_CORES:
                        print(f"  WARNING: other processes used {result.other_cpu / result.elapsed:.2f} CPU cores "
                              "during this run; its figures are skewed by a busy machine", flush=True)
            except BenchError as exc:
                failed = True
                print(f"  FAILED: {exc}", flush=True)
            if not results:
                rows.append({"config": config, "workers": config.workers or "?", "threads": threads,
                             "failed": True})
                continue
            median = sorted(results, key=lambda r: r.docs_per_s)[len(results) // 2]
            seen = sorted({r.workers_seen for r in results})
            rows.append({"config": config, "workers": "/".join(map(str, seen)), "threads": threads, "failed": False,
                         "runs": len(results), "docs_s": statistics.median(r.docs_per_s for r in results),
                         "mb_s": statistics.median(r.mb_per_s for r in results),
                         "p50": percentile(median.latencies, .5), "p95": percentile(median.latencies, .95),
                         "server_cpu_ms": median.server_cpu / median.docs * 1e3,
                         "background_cpu_ms": median.scheduler_cpu / median.docs * 1e3,
                         "other_cpu_ms": median.other_cpu / median.docs * 1e3,
                         "busy": median.system_busy, "iowait": median.system_iowait})
    except KeyboardInterrupt as exc:
        failed = True
        print(f"\ninterrupted ({str(exc) or 'Ctrl-C'}); cleaning up", file=sys.stderr)
    finally:
        CLEANUP.run_all()

    if rows:
        print_table(rows, floor_mbs, args, notes)
    print(f"\nserver logs kept in {logs}")
    return 1 if failed else 0


def print_table(rows: list[dict[str, Any]], floor_mbs: float, args: argparse.Namespace, notes: list[str]) -> None:
    print(f"\nFiling benchmark: {args.n} PDFs x {args.size_kb} KiB, median of {args.runs} run(s); MB = 10^6 bytes"
          + (f"; server env {' '.join(args.server_env)}" if args.server_env else ""))
    header = (f"{'backend':<9} {'conc':>4} {'server':>7} {'docs/s':>8} {'MB/s':>7} {'floor MB/s':>10} "
              f"{'ratio':>6} {'p50 ms':>7} {'p95 ms':>7} {'srvCPU ms/doc':>13} {'bgCPU':>6} {'othCPU':>6} {'busy':>5} {'iowait':>6}  target")
    print(header)
    print("-" * len(header))
    for row in rows:
        config: Config = row["config"]
        server = f"{row['workers']}x{row['threads']}"
        if row["failed"]:
            print(f"{config.backend:<9} {config.concurrency:>4} {server:>7} {'FAILED':>8}")
            continue
        ratio = row["mb_s"] / floor_mbs
        if config.backend == "sqlite":
            verdicts = [f"docs/s {'ok' if row['docs_s'] >= TARGET_DOCS_PER_S else 'MISS'} (>= {TARGET_DOCS_PER_S:.0f})",
                        f"ratio {'ok' if ratio >= TARGET_FLOOR_RATIO else 'MISS'} (>= {TARGET_FLOOR_RATIO})"]
            target = ", ".join(verdicts)
        else:
            target = "-"
        print(f"{config.backend:<9} {config.concurrency:>4} {server:>7} {row['docs_s']:>8.1f} {row['mb_s']:>7.1f} "
              f"{floor_mbs:>10.1f} {ratio:>6.3f} {row['p50'] * 1e3:>7.1f} {row['p95'] * 1e3:>7.1f} "
              f"{row['server_cpu_ms']:>13.2f} {row['background_cpu_ms']:>6.2f} {row['other_cpu_ms']:>6.2f} {row['busy']:>5.0%} {row['iowait']:>6.0%}  {target}")
    print(f"targets (embedded sqlite default): >= {TARGET_DOCS_PER_S:.0f} docs/s and >= {TARGET_FLOOR_RATIO} of floor")
    print("server = gunicorn worker processes (as found running) x threads per worker; ratio = MB/s / floor MB/s; "
          "srvCPU = web workers' CPU per document; bgCPU = the background process's (derived work from the outbox: "
          "processing and indexing, which runs niced and carries on after the run; plus periodic jobs); othCPU = CPU per "
          "document used by unrelated processes (high values mean a busy machine skewed the run)")
    for note in notes:
        print(f"note: {note}")


if __name__ == "__main__":
    sys.exit(main())
