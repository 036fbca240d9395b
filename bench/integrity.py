"""Integrity benchmark: fixity throughput, audit appends, chain verification, checkpoints and inclusion proofs.

    .venv/bin/python bench/integrity.py                    # the full run (~1 GB fixity, 1,000,000-event log)
    .venv/bin/python bench/integrity.py --quick            # smaller sizes, a minute or two
    .venv/bin/python bench/integrity.py --only chain --db sqlite --events 200000
    .venv/bin/python bench/integrity.py --profile          # also cProfile one extra run of every figure that misses

Figures (each the median of --runs runs, printed beside its target):

1. fixity: ~--fixity-mb of random content filed as real documents (archive.filing.file_document, as 5 MB PDFs), then
   `run_fixity` (must come back clean) against `find <blob dir> -type f | xargs sha256sum` over the same stored files.
   Both run once untimed first, to warm the page cache. With encryption on (AES-GCM sealed blobs: fixity decrypts,
   then hashes, while sha256sum hashes the sealed files) and off. The database is SQLite. Beside them, informational:
   `openssl dgst -sha256` over the same files (coreutils' sha256sum does not use the CPU's SHA extensions; OpenSSL,
   like Python's hashlib, does).
2. appends: `audit.log.append`, one event per transaction, from 1 writer, 4 threads and 4 processes; then batched,
   --batch events per transaction from 1 writer; for comparison `audit.log.append_many` (the bulk append) with the
   same batch, and a bare one-row INSERT + COMMIT per transaction (the durable-commit floor). SQLite and PostgreSQL;
   verify_chain must pass over everything the runs appended.
3. chain: a log of --events events, `audit.verify.verify_chain` over it in `rt.reading()`.
4. checkpoint: the first `create_checkpoint` over that log (a full build; each run on a fresh copy of the log), then
   1,000 more events appended and the incremental checkpoint timed.
5. proof: `audit.checkpoints.inclusion` for one event, then `audit.merkle.verify_inclusion` averaged over 10,000 calls.

The chain section builds its log with the archive's own bulk append, `audit.log.append_many`, 10,000 events per
call (falling back to `append` where that does not exist); `--build-with-append` uses the one-event `append`, 1,000 per
transaction, instead (much slower). `verify_chain` over the log must come back ok.

The machine may be shared: the "other CPU" column is the average number of cores busy with work other than this
process and its children while a figure was measured (for PostgreSQL rows that includes the server's own work),
"own CPU" the same for this benchmark, and "own CPU per" its CPU time per unit of work, which depends far less on
other load than wall-clock figures do. `--quiet-wait S` waits up to S seconds before each figure for the machine to
go quiet. The code under test is fingerprinted at the start and the end; a warning says when it changed mid-run.
This prints figures and asserts nothing about timing. It exits non-zero only when a result is wrong (fixity not
clean, a chain that does not verify, a proof that does not check).

PostgreSQL: ARCHIVE_TEST_POSTGRES_URL (`eval "$(bash scripts/services.sh --env)"`), a role with CREATEDB; each
section creates its own databases and drops them at the end. Without the variable, PostgreSQL rows are skipped.
"""
from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import logging
import multiprocessing as mp
import os
import pstats
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from archive.db import make_engine, upgrade  # noqa: E402
from archive.filing import file_document  # noqa: E402
from archive.fixity import run_fixity  # noqa: E402
from archive.hashing import spool_stream  # noqa: E402
from archive.metadata import parse_filing  # noqa: E402
from archive.models import AuditHead  # noqa: E402
from archive.runtime import Runtime  # noqa: E402
from audit.checkpoints import create_checkpoint, inclusion  # noqa: E402
import audit.log as audit_log  # noqa: E402
from audit.log import Actor, append  # noqa: E402
from audit.merkle import verify_inclusion  # noqa: E402
from audit.verify import verify_chain  # noqa: E402
from config.backends import build_runtime  # noqa: E402
from config.settings import load_settings  # noqa: E402

GB = 1e9  # decimal gigabytes; the ratios do not depend on the unit
MB = 1_000_000
ACTOR = Actor.system("bench")
ACTION = "bench.appended"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PG_ENV = "ARCHIVE_TEST_POSTGRES_URL"
QUIET_CORES = 0.3


class BenchError(RuntimeError):
    """A result was wrong (not merely slow)."""


# ---------------------------------------------------------------------------------------------------------------
# Results


@dataclass
class Figure:
    section: str
    label: str
    unit: str
    runs: list[float]
    target: float | None = None
    higher_is_better: bool = True
    watch: CpuWatch | None = None
    per: tuple[float, str] | None = None  # units of work in one run, and their name: for CPU time per unit
    note: str = ""
    digits: int = 0

    @property
    def value(self) -> float:
        return statistics.median(self.runs)

    @property
    def cpu_per_unit(self) -> str:
        """This benchmark's CPU time (process and children) per unit of work, over all runs."""
        if self.watch is None or self.per is None or not self.per[0]:
            return ""
        seconds = self.watch.own / (self.per[0] * len(self.runs))
        for scale, name in ((1.0, "s"), (1e3, "ms"), (1e6, "µs")):
            if seconds * scale >= 1 or name == "µs":
                return f"{seconds * scale:.3g} {name}/{self.per[1]}"
        return ""

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.value >= self.target if self.higher_is_better else self.value <= self.target


@dataclass
class Results:
    figures: list[Figure] = field(default_factory=list)
    profiles: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        runs = "/".join(fmt(r, figure.digits) for r in figure.runs)
        target = "" if figure.target is None else f"  target {target_text(figure)}  {status(figure)}"
        print(f"  {figure.label}: {fmt(figure.value, figure.digits)} {figure.unit} ({runs}){target}", flush=True)
        return figure


def fmt(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def target_text(figure: Figure) -> str:
    if figure.target is None:
        return "-"
    return f"{'>=' if figure.higher_is_better else '<='} {fmt(figure.target, figure.digits)}"


def status(figure: Figure) -> str:
    return {None: "", True: "met", False: "MISSED"}[figure.met]


def print_table(results: Results) -> None:
    headers = ["section", "figure", "median", "unit", "runs", "target", "", "own CPU", "other CPU", "own CPU per"]
    rows = [[f.section, f.label, fmt(f.value, f.digits), f.unit,
             "/".join(fmt(r, f.digits) for r in f.runs), target_text(f), status(f),
             "" if f.watch is None else f"{f.watch.own_cores:.2f}",
             "" if f.watch is None else f"{f.watch.cores:.2f}", f.cpu_per_unit] for f in results.figures]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    right = {2, 4, 7, 8, 9}
    line = lambda cells: "  ".join(c.rjust(w) if i in right else c.ljust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    print()
    print(line(headers))
    print(line(["-" * w for w in widths]))
    for row in rows:
        print(line(row))
    print("  own CPU / other CPU: average cores busy, while the figure's runs were timed, with this benchmark's work "
          "(its process and children;\n  not the PostgreSQL server) and with everything else (other processes on the "
          "machine, and the PostgreSQL server);\n  own CPU per: this benchmark's CPU time per unit of work, which "
          "depends far less on the machine being shared than the wall-clock figures do")
    for figure in results.figures:
        if figure.note:
            print(f"  * {figure.section}, {figure.label}: {figure.note}")
    for note in results.notes:
        print(f"  * {note}")


# ---------------------------------------------------------------------------------------------------------------
# Measuring


def system_busy_jiffies() -> int:
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    return sum(values[:8]) - values[3] - values[4]  # all but idle and iowait


def own_cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class CpuWatch:
    """Average cores busy with our work (this process and its children) and with other work, over wall time."""

    def __init__(self) -> None:
        self.wall = self.other = self.own = 0.0

    def __enter__(self) -> CpuWatch:
        self._t, self._busy, self._own = time.perf_counter(), system_busy_jiffies(), own_cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self._t
        busy = (system_busy_jiffies() - self._busy) / CLK_TCK
        own = own_cpu_seconds() - self._own
        self.wall += wall
        self.own += own
        self.other += max(0.0, busy - own)

    @property
    def cores(self) -> float:
        return self.other / self.wall if self.wall else 0.0

    @property
    def own_cores(self) -> float:
        return self.own / self.wall if self.wall else 0.0


def wait_for_quiet(max_wait: float) -> None:
    """Waits (up to max_wait seconds) until other work uses less than QUIET_CORES, sampled over 1 s."""
    deadline = time.monotonic() + max_wait
    while time.monotonic() < deadline:
        with CpuWatch() as watch:
            time.sleep(1.0)
        if watch.cores < QUIET_CORES:
            return


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


@contextmanager
def single_process():
    """cProfile sees only the calling process: where the archive splits a scan over worker processes
    (audit.chain_scan.PARALLEL_FROM), raise that threshold so the profiled run does the same work in-process."""
    try:
        import audit.chain_scan as chain_scan
    except ImportError:
        yield False
        return
    if not hasattr(chain_scan, "PARALLEL_FROM"):
        yield False
        return
    saved = chain_scan.PARALLEL_FROM
    chain_scan.PARALLEL_FROM = 1 << 62
    try:
        yield True
    finally:
        chain_scan.PARALLEL_FROM = saved


def profile(results: Results, label: str, fn: Callable[[], Any], top: int = 14) -> None:
    """One extra run under cProfile: the functions with the most own time, everything by cumulative time, and
    this project's functions by cumulative time."""
    profiler = cProfile.Profile()
    with single_process() as patched:
        t0 = time.perf_counter()
        profiler.runcall(fn)
        wall = time.perf_counter() - t0
    stats = pstats.Stats(profiler)
    total = stats.total_tt or 1e-9
    entries = [(key, value) for key, value in stats.stats.items()]  # type: ignore[attr-defined]
    out = io.StringIO()
    out.write(f"{label}: {wall:.2f} s wall under cProfile, {total:.2f} s profiled"
              + (" (in one process: audit.chain_scan.PARALLEL_FROM raised for the profile)" if patched else "")
              + "\n")
    header = f"{'tottime':>8} {'%':>5} {'cumtime':>8} {'%':>5} {'calls':>10}  function"
    listings = [("by own time", entries, 2), ("by cumulative time", entries, 3),
                ("project code by cumulative time", [e for e in entries if is_project(e[0][0])], 3)]
    for title, chosen, column in listings:
        out.write(f"  {title}:\n    {header}\n")
        for (file, line, name), (_cc, calls, tt, ct, _callers) in sorted(chosen, key=lambda e: -e[1][column])[:top]:
            out.write(f"    {tt:8.3f} {100 * tt / total:5.1f} {ct:8.3f} {100 * ct / total:5.1f} {calls:10,}  "
                      f"{where(file, line, name)}\n")
    results.profiles.append((label, out.getvalue()))
    print(f"  (profiled {label})", flush=True)


def is_project(file: str) -> bool:
    return file.startswith(str(ROOT)) and "/.venv/" not in file and not file.startswith(str(ROOT / "bench"))


def where(file: str, line: int, name: str) -> str:
    if file == "~":
        return name
    for prefix in (str(ROOT / ".venv" / "lib"), str(ROOT) + "/"):
        if file.startswith(prefix):
            file = file[len(prefix):].lstrip("/")
            file = file.split("site-packages/", 1)[-1]
            break
    else:
        file = Path(file).name
    return f"{file}:{line}({name})"


# ---------------------------------------------------------------------------------------------------------------
# Databases and runtimes


class Databases:
    """Fresh databases: SQLite files in the work directory, PostgreSQL databases dropped at the end."""

    def __init__(self, work: Path, admin_url: str | None) -> None:
        self.work, self.admin_url = work, admin_url
        self.created: list[str] = []

    def admin(self):
        return create_engine(self.admin_url, isolation_level="AUTOCOMMIT")

    def pg_url(self, name: str) -> str:
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def fresh(self, kind: str, label: str) -> str:
        if kind == "sqlite":
            url = f"sqlite:///{self.work / f'{label}-{uuid.uuid4().hex[:6]}.db'}"
        else:
            name = f"bench_integrity_{uuid.uuid4().hex[:10]}"
            engine = self.admin()
            with engine.connect() as conn:
                conn.execute(text(f"CREATE DATABASE {name}"))
            engine.dispose()
            self.created.append(name)
            url = self.pg_url(name)
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        return url

    def copy(self, kind: str, url: str) -> str:
        """A copy of a database no connection is using."""
        if kind == "sqlite":
            source = Path(url.split("///", 1)[1])
            with sqlite3.connect(source) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            target = source.with_name(f"copy-{uuid.uuid4().hex[:6]}.db")
            shutil.copyfile(source, target)
            return f"sqlite:///{target}"
        name = f"bench_integrity_{uuid.uuid4().hex[:10]}"
        engine = self.admin()
        with engine.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {make_url(url).database} STRATEGY FILE_COPY"))
        engine.dispose()
        self.created.append(name)
        return self.pg_url(name)

    def drop(self, kind: str, url: str) -> None:
        if kind == "sqlite":
            path = Path(url.split("///", 1)[1])
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            return
        name = make_url(url).database
        engine = self.admin()
        with engine.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        engine.dispose()
        if name in self.created:
            self.created.remove(name)

    def drop_all(self) -> None:
        if not self.created:
            return
        engine = self.admin()
        with engine.connect() as conn:
            for name in self.created:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        engine.dispose()
        self.created.clear()


def runtime_for(url: str, data_dir: Path, encryption: str = "off") -> Runtime:
    return build_runtime(load_settings(environ={}, data_dir=data_dir, database_url=url, encryption=encryption))


def temp_dir(work: Path, prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix, dir=work))


# ---------------------------------------------------------------------------------------------------------------
# 1. Fixity


def pdf_content(size: int) -> bytes:
    """Incompressible content that passes the type allow-list: a PDF header, random bytes, a trailer."""
    head, tail = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", b"\n%%EOF\n"
    return head + os.urandom(max(0, size - len(head) - len(tail))) + tail


def file_blobs(rt: Runtime, count: int, size: int) -> int:
    filing = parse_filing({"doc_type": "other", "customer": {"number": "C"}, "allow_duplicate": True})
    total = 0
    for i in range(count):
        spool = spool_stream(io.BytesIO(pdf_content(size)), rt.blobs.spool_dir(), rt.settings.max_upload_bytes)
        with spool:
            receipt = file_document(rt, spool, filing, ACTOR, filename=f"bench-{i}.pdf")
        total += receipt["size"]
    return total


def hash_tree(directory: Path, command: str) -> None:
    """`find <dir> -type f | xargs <command>`, output discarded."""
    result = subprocess.run(["bash", "-c", f'find "$1" -type f | xargs {command} > /dev/null', "-", str(directory)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise BenchError(f"{command} failed: {result.stderr.strip()}")


def tree_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def checked_fixity(rt: Runtime, count: int) -> Any:
    report = run_fixity(rt, ACTOR)
    if not (report.clean and report.complete and report.checked == count):
        raise BenchError(f"fixity did not come back clean: {report.as_dict()}")
    return report


def bench_fixity(args: argparse.Namespace, results: Results, work: Path, dbs: Databases) -> None:
    count = max(1, round(args.fixity_mb / args.file_mb))
    size = int(args.file_mb * MB)
    floors = [("find | xargs sha256sum", "sha256sum")]
    if shutil.which("openssl"):
        floors.append(("find | xargs openssl dgst -sha256", "openssl dgst -sha256"))
    for encryption in ("on", "off"):
        section = f"fixity (encryption {encryption})"
        print(f"\n{section}: filing {count} x {args.file_mb:g} MB", flush=True)
        data_dir = temp_dir(work, f"fixity-{encryption}-")
        url = dbs.fresh("sqlite", f"fixity-{encryption}")
        rt = runtime_for(url, data_dir, encryption)
        try:
            watch = CpuWatch()
            with watch:
                filing_s, plain = timed(lambda: file_blobs(rt, count, size))
            blob_dir = Path(urlparse(rt.settings.blob_url).path) / "sha256"
            stored = tree_bytes(blob_dir)
            results.add(Figure(section, f"filing {count} x {args.file_mb:g} MB (1 run)", "MB/s",
                               [plain / MB / filing_s], watch=watch, per=(plain / GB, "GB"), digits=1,
                               note="file_document end to end (spool, type check, seal, fsyncs, rows), "
                                    "informational"))
            checked_fixity(rt, count)          # warm the page cache (and the code paths)
            for _, command in floors:
                hash_tree(blob_dir, command)
            wait_for_quiet(args.quiet_wait)
            watches = [CpuWatch() for _ in range(1 + len(floors))]
            rates: list[list[float]] = [[] for _ in watches]
            for _ in range(args.runs):        # interleaved, so drift in machine load hits all alike
                with watches[0]:
                    seconds, _ = timed(lambda: checked_fixity(rt, count))
                rates[0].append(plain / GB / seconds)
                for i, (_, command) in enumerate(floors, start=1):
                    with watches[i]:
                        seconds, _ = timed(lambda: hash_tree(blob_dir, command))
                    rates[i].append(stored / GB / seconds)
            sealed = " (sealed)" if encryption == "on" else ""
            results.add(Figure(section, "run_fixity", "GB/s", rates[0], watch=watches[0], digits=3,
                               per=(plain / GB, "GB"),
                               note=f"{plain / GB:.2f} GB of content in {count} blobs"
                               + (", each decrypted, then hashed" if encryption == "on" else "")))
            results.add(Figure(section, floors[0][0], "GB/s", rates[1], watch=watches[1], digits=3,
                               per=(stored / GB, "GB"),
                               note=f"the same {stored / GB:.2f} GB of stored files{sealed}"))
            ratio = results.add(Figure(section, "ratio run_fixity / sha256sum", "x",
                                       [f / s for f, s in zip(rates[0], rates[1])], target=0.9, digits=2,
                                       note="per run, fixity against the sha256sum run that followed it"))
            if len(floors) > 1:
                results.add(Figure(section, floors[1][0], "GB/s", rates[2], watch=watches[2], digits=3,
                                   per=(stored / GB, "GB"),
                                   note="informational: OpenSSL's SHA-256 (SHA-NI), the fast floor"))
                results.add(Figure(section, "ratio run_fixity / openssl", "x",
                                   [f / s for f, s in zip(rates[0], rates[2])], digits=2, note="informational"))
            if args.profile and (ratio.met is False or args.profile_all):
                profile(results, f"run_fixity, encryption {encryption}, {count} blobs",
                        lambda: checked_fixity(rt, count))
        finally:
            rt.close()
            dbs.drop("sqlite", url)
            shutil.rmtree(data_dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------------
# 2. Appends


def append_one_at_a_time(rt: Runtime, count: int, tag: int = 0) -> None:
    for i in range(count):
        with rt.transaction() as session:
            append(session, rt.clock, ACTOR, ACTION, "x", {"i": i, "w": tag})


def append_batched(rt: Runtime, count: int, batch: int) -> None:
    done = 0
    while done < count:
        n = min(batch, count - done)
        with rt.transaction() as session:
            for i in range(done, done + n):
                append(session, rt.clock, ACTOR, ACTION, "x", {"i": i})
        done += n


def append_threads(rt: Runtime, writers: int, per_writer: int) -> float:
    barrier, errors = threading.Barrier(writers + 1), []

    def work(tag: int) -> None:
        try:
            barrier.wait()
            append_one_at_a_time(rt, per_writer, tag)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    barrier.wait()
    t0 = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise BenchError(f"an appending thread failed: {errors[0]!r}")
    return elapsed


def _process_writer(url: str, data_dir: str, count: int, tag: int, barrier: Any, done: Any) -> None:
    logging.disable(logging.WARNING)
    try:
        rt = runtime_for(url, Path(data_dir))
        with rt.transaction() as session:  # connect before the start line
            session.execute(select(AuditHead.seq))
        barrier.wait()
        append_one_at_a_time(rt, count, tag)
        done.put((tag, time.perf_counter(), None))
        rt.close()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        done.put((tag, time.perf_counter(), repr(exc)))


def append_processes(url: str, data_dir: Path, writers: int, per_writer: int) -> float:
    ctx = mp.get_context("spawn")
    barrier, done = ctx.Barrier(writers + 1), ctx.Queue()
    procs = [ctx.Process(target=_process_writer, args=(url, str(data_dir), per_writer, w, barrier, done))
             for w in range(writers)]
    for proc in procs:
        proc.start()
    barrier.wait(timeout=120)
    t0 = time.perf_counter()
    ends = [done.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join()
    errors = [e for _, _, e in ends if e]
    if errors:
        raise BenchError(f"an appending process failed: {errors[0]}")
    return max(t for _, t, _ in ends) - t0


def commit_floor(rt: Runtime, count: int) -> None:
    with rt.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS bench_floor (x integer)")
    for i in range(count):
        with rt.engine.begin() as conn:
            conn.exec_driver_sql(f"INSERT INTO bench_floor VALUES ({i})")


def head_seq(rt: Runtime) -> int:
    with rt.reading() as session:
        return session.scalar(select(AuditHead.seq))


def bench_appends(args: argparse.Namespace, results: Results, work: Path, dbs: Databases, kind: str) -> None:
    section = f"appends ({kind})"
    print(f"\n{section}", flush=True)
    data_dir = temp_dir(work, f"appends-{kind}-")
    url = dbs.fresh(kind, "appends")
    rt = runtime_for(url, data_dir)
    one_target = 2000.0 if kind == "postgresql" else None
    n, writers = args.appends, 4
    per = max(1, n // writers)
    try:
        append_one_at_a_time(rt, 20)  # warm up: connections, statement caches
        cases = [
            ("one per txn, 1 writer", n, lambda: timed(lambda: append_one_at_a_time(rt, n))[0]),
            (f"one per txn, {writers} threads", per * writers, lambda: append_threads(rt, writers, per)),
            (f"one per txn, {writers} processes", per * writers,
             lambda: append_processes(url, data_dir, writers, per)),
            (f"batched {args.batch}/txn, 1 writer", args.batched,
             lambda: timed(lambda: append_batched(rt, args.batched, args.batch))[0]),
        ]
        if hasattr(audit_log, "append_many"):
            cases.append((f"append_many, {args.batch}/txn, 1 writer", args.batched,
                          lambda: timed(lambda: bulk_load(rt, args.batched, args.batch, args.batch))[0]))
        for label, count, run in cases:
            wait_for_quiet(args.quiet_wait)
            watch, rates = CpuWatch(), []
            for _ in range(args.runs):
                with watch:
                    rates.append(count / run())
            batched = not label.startswith("one per txn")
            target = 20000.0 if batched else one_target
            if label.startswith("append_many"):
                note = ("the archive's bulk append (audit.log.append_many: one multi-row INSERT per call), "
                        "for comparison with append() batched")
            elif "processes" in label:
                note = "own CPU includes starting the writer interpreters (so no CPU per event)"
            else:
                note = "" if target else "no target on SQLite (the 2,000/s target is PostgreSQL's)"
            figure = results.add(Figure(section, label, "events/s", rates, target=target, watch=watch,
                                        per=None if "processes" in label else (count, "event"), note=note))
            if args.profile and (figure.met is False or args.profile_all):
                if label.startswith("append_many"):
                    profile(results, f"append_many, {args.batch}/txn, {kind}, {args.batched} events",
                            lambda: bulk_load(rt, args.batched, args.batch, args.batch))
                elif label.startswith("batched"):
                    profile(results, f"append, batched {args.batch}/txn, {kind}, {args.batched} events",
                            lambda: append_batched(rt, args.batched, args.batch))
                elif "1 writer" in label:
                    profile(results, f"append, one per txn, 1 writer, {kind}, {n} events",
                            lambda: append_one_at_a_time(rt, n))
        wait_for_quiet(args.quiet_wait)
        watch, rates = CpuWatch(), []
        for _ in range(args.runs):
            with watch:
                rates.append(n / timed(lambda: commit_floor(rt, n))[0])
        results.add(Figure(section, "floor: 1-row INSERT + COMMIT per txn", "txn/s", rates, watch=watch,
                           per=(n, "txn"),
                           note="informational: a bare insert per transaction on the same engine, no audit "
                                "logic; the durable-commit ceiling for one writer"))
        with rt.reading() as session:
            report = verify_chain(session)
        expected = head_seq(rt)
        if not report.ok or report.events != expected:
            raise BenchError(f"the chain written by the append runs does not verify: {report.as_dict()}")
        results.notes.append(f"{section}: verify_chain ok over the {report.events:,} events the runs appended "
                             f"(concurrent writers kept the chain intact)")
    finally:
        rt.close()
        dbs.drop(kind, url)
        shutil.rmtree(data_dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------------
# 3-5. Chain verification, checkpoints, inclusion proofs


def bulk_load(rt: Runtime, count: int, chunk: int = 10_000, commit_every: int = 100_000) -> str:
    """Appends `count` events with the archive's own bulk append (audit.log.append_many), `chunk` per call;
    without it, with `append`, `commit_every` per transaction. Returns how."""
    many = getattr(audit_log, "append_many", None)
    done = 0
    while done < count:
        with rt.transaction() as session:
            target = min(count, done + commit_every)
            while done < target:
                n = min(chunk, target - done)
                if many is not None:
                    many(session, rt.clock, ACTOR, ((ACTION, "x", {"i": done + i}) for i in range(n)))
                else:
                    for i in range(n):
                        append(session, rt.clock, ACTOR, ACTION, "x", {"i": done + i})
                done += n
    return (f"audit.log.append_many, {chunk:,} per call" if many is not None
            else f"audit.log.append, {commit_every:,} per txn") + f", {commit_every:,} per txn; informational"


def checked_verify(rt: Runtime, expected: int) -> Any:
    with rt.reading() as session:
        report = verify_chain(session)
    if not report.ok or report.events != expected:
        raise BenchError(f"verify_chain failed: {report.as_dict()}")
    return report


def checked_checkpoint(rt: Runtime, expected_size: int) -> Any:
    checkpoint = create_checkpoint(rt, ACTOR)
    if checkpoint is None or checkpoint.tree_size != expected_size:
        raise BenchError(f"checkpoint over {expected_size} events came back as "
                         f"{None if checkpoint is None else checkpoint.tree_size}")
    return checkpoint


def proof_arguments(proof: dict[str, Any]) -> tuple[bytes, int, int, list[bytes], bytes]:
    root = proof["checkpoint"]["root_hash"].removeprefix("sha256:")
    return (bytes.fromhex(proof["leaf_hash"]), proof["leaf_index"], proof["tree_size"],
            [bytes.fromhex(p) for p in proof["proof"]], bytes.fromhex(root))


def verify_many(arguments: tuple, calls: int) -> float:
    leaf, index, size, path, root = arguments
    ok = True
    t0 = time.perf_counter()
    for _ in range(calls):
        ok &= verify_inclusion(leaf, index, size, path, root)
    elapsed = time.perf_counter() - t0
    if not ok:
        raise BenchError("verify_inclusion refused a proof the archive produced")
    return elapsed / calls


def bench_chain(args: argparse.Namespace, results: Results, work: Path, dbs: Databases, kind: str) -> None:
    section = f"chain ({kind})"
    n, extra = args.events, 1000
    print(f"\n{section}: building a log of {n:,} events", flush=True)
    data_dir = temp_dir(work, f"chain-{kind}-")
    base = dbs.fresh(kind, "chain")
    rt = runtime_for(base, data_dir)
    copies: list[str] = []
    try:
        watch = CpuWatch()
        with watch:
            if args.build_with_append:
                seconds, _ = timed(lambda: append_batched(rt, n, args.batch))
                how = f"audit.log.append, {args.batch}/txn; informational"
            else:
                seconds, how = timed(lambda: bulk_load(rt, n))
        results.add(Figure(section, f"build {n:,}-event log (1 run)", "events/s", [n / seconds], watch=watch,
                           per=(n, "event"),
                           note=how))

        wait_for_quiet(args.quiet_wait)
        watch, rates = CpuWatch(), []
        for _ in range(args.runs):
            with watch:
                seconds, _ = timed(lambda: checked_verify(rt, n))
            rates.append(n / seconds)
        figure = results.add(Figure(section, f"verify_chain over {n:,}", "events/s", rates, target=200_000.0,
                                    per=(n, "event"),
                                    watch=watch))
        if args.profile and (figure.met is False or args.profile_all):
            profile(results, f"verify_chain, {kind}, {n:,} events", lambda: checked_verify(rt, n))
        rt.close()

        full, incremental, proof_gen, verify_us = [], [], [], []
        full_watch, inc_watch, proof_watch, verify_watch = CpuWatch(), CpuWatch(), CpuWatch(), CpuWatch()
        profile_full = None
        for run in range(args.runs):
            url = dbs.copy(kind, base)
            copies.append(url)
            run_dir = temp_dir(work, f"chain-run-{kind}-")
            crt = runtime_for(url, run_dir)
            wait_for_quiet(args.quiet_wait)
            try:
                first_size = head_seq(crt)
                with full_watch:
                    seconds, _ = timed(lambda: checked_checkpoint(crt, first_size))
                full.append(seconds)
                append_batched(crt, extra, extra)
                size = head_seq(crt)  # the first checkpoint also appended its own event(s)
                with inc_watch:
                    seconds, _ = timed(lambda: checked_checkpoint(crt, size))
                incremental.append(seconds)
                seq = n // 2 + run
                with crt.reading() as session, proof_watch:
                    seconds, proof = timed(lambda: inclusion(session, seq))
                proof_gen.append(seconds)
                arguments = proof_arguments(proof)
                verify_many(arguments, 200)  # warm up
                with verify_watch:
                    verify_us.append(verify_many(arguments, args.verifications) * 1e6)
            finally:
                crt.close()
                shutil.rmtree(run_dir, ignore_errors=True)
            if run == 0 and args.profile:
                profile_full = dbs.copy(kind, base)
                copies.append(profile_full)
        full_figure = results.add(Figure(section, f"first checkpoint over {n:,}", "s", full, target=5.0,
                                         per=(n, "event"),
                                         higher_is_better=False, watch=full_watch, digits=2,
                                         note="full build, each run on a fresh copy of the log"))
        results.add(Figure(section, f"incremental checkpoint (+{size - n:,} events)", "s", incremental,
                           per=(1, "run"),
                           higher_is_better=False, watch=inc_watch, digits=3,
                           note=f"{extra:,} appended with append() in one txn, plus the first checkpoint's own"))
        results.add(Figure(section, f"inclusion() for one event, tree of {size:,}", "s", proof_gen,
                           per=(1, "call"),
                           higher_is_better=False, watch=proof_watch, digits=3,
                           note="informational: audit.checkpoints.inclusion, the server side of a proof"))
        proof_figure = results.add(Figure(section, f"verify_inclusion (avg of {args.verifications:,} calls)", "µs",
                                          verify_us, target=100.0, higher_is_better=False, watch=verify_watch,
                                          per=(args.verifications, "call"), digits=1,
                                          note=f"proof of {len(arguments[3])} hashes"))
        if args.profile and profile_full is not None and (full_figure.met is False or args.profile_all):
            crt = runtime_for(profile_full, temp_dir(work, f"chain-prof-{kind}-"))
            try:
                profile(results, f"create_checkpoint (first), {kind}, {n:,} events",
                        lambda: checked_checkpoint(crt, n))
            finally:
                crt.close()
        if args.profile and (proof_figure.met is False or args.profile_all):
            profile(results, "verify_inclusion", lambda: verify_many(arguments, args.verifications))
    finally:
        rt.close()
        for url in copies:
            dbs.drop(kind, url)
        dbs.drop(kind, base)
        shutil.rmtree(data_dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smaller sizes: 100 MB fixity, 300 one-at-a-time and 5,000 batched appends, "
                             "100,000 events")
    parser.add_argument("--only", default="fixity,appends,chain", help="sections to run (comma-separated)")
    parser.add_argument("--db", default="sqlite,postgresql",
                        help="backends for the appends and chain sections (sqlite, postgresql)")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure; the median is reported")
    parser.add_argument("--fixity-mb", type=float, help="total content filed for fixity (default 1000)")
    parser.add_argument("--file-mb", type=float, default=5.0, help="size of each filed document (default 5)")
    parser.add_argument("--appends", type=int, help="events per one-at-a-time run (default 1000)")
    parser.add_argument("--batched", type=int, help="events per batched run (default 10000)")
    parser.add_argument("--batch", type=int, default=1000, help="events per transaction when batched")
    parser.add_argument("--events", type=int, help="size of the log for the chain section (default 1,000,000)")
    parser.add_argument("--verifications", type=int, default=10_000, help="verify_inclusion calls per run")
    parser.add_argument("--build-with-append", action="store_true",
                        help="build the chain section's log with the real, batched append (slow)")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile one extra run of every figure that misses its target")
    parser.add_argument("--profile-all", action="store_true", help="with --profile: profile met figures too")
    parser.add_argument("--quiet-wait", type=float, default=0.0,
                        help="before each figure, wait up to this many seconds for other work on the machine to "
                             f"drop below {QUIET_CORES} cores (default 0: measure at once)")
    parser.add_argument("--work-dir", type=Path, default=None, help="where temp data goes (default: system temp)")
    args = parser.parse_args(argv)
    defaults = ({"fixity_mb": 100.0, "appends": 300, "batched": 5000, "events": 100_000} if args.quick else
                {"fixity_mb": 1000.0, "appends": 1000, "batched": 10_000, "events": 1_000_000})
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.only = {s.strip() for s in args.only.split(",") if s.strip()}
    args.db = [{"postgres": "postgresql", "pg": "postgresql"}.get(d.strip(), d.strip())
               for d in args.db.split(",") if d.strip()]
    unknown = (args.only - {"fixity", "appends", "chain"}) | (set(args.db) - {"sqlite", "postgresql"})
    if unknown:
        parser.error(f"unknown section or backend: {', '.join(sorted(unknown))}")
    return args


CODE_DIRS = ("archive", "audit", "config", "migrations")


def code_digest() -> str:
    """A digest of the Python code under test, as it is on disk now."""
    digest = hashlib.sha256()
    for directory in CODE_DIRS:
        for path in sorted((ROOT / directory).rglob("*.py")):
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def code_state() -> str:
    """The commit and any uncommitted changes to the code under test, to tell which code a table measured."""
    def git(*cmd: str) -> str:
        try:
            return subprocess.run(["git", "-C", str(ROOT), *cmd], capture_output=True, text=True,
                                  timeout=30).stdout.rstrip("\n")
        except (OSError, subprocess.SubprocessError):
            return ""
    head = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = sorted(line[3:] for line in git("status", "--porcelain", "--", *CODE_DIRS).splitlines())
    dirty = f"uncommitted changes to {', '.join(changed)}" if changed else "no uncommitted changes"
    return f"commit {head}, {dirty} in {'/ '.join(CODE_DIRS)}/; code digest {code_digest()}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.disable(logging.WARNING)  # "generated a master key at ...", once per fresh data dir
    admin_url = os.environ.get(PG_ENV)
    backends = [b for b in args.db if b == "sqlite" or admin_url]
    results = Results()
    if "postgresql" in args.db and not admin_url:
        results.notes.append(f"PostgreSQL skipped: {PG_ENV} is not set (eval \"$(bash scripts/services.sh --env)\")")
    work = Path(tempfile.mkdtemp(prefix="bench-integrity-", dir=args.work_dir))
    dbs = Databases(work, admin_url)
    started = time.perf_counter()
    load = os.getloadavg()
    print(f"bench/integrity.py: {os.cpu_count()} cores, load average {load[0]:.2f} at start; work dir {work}")
    print(f"code under test: {code_state()}", flush=True)
    digest = code_digest()
    try:
        if "fixity" in args.only:
            bench_fixity(args, results, work, dbs)
        if "appends" in args.only:
            for kind in backends:
                bench_appends(args, results, work, dbs, kind)
        if "chain" in args.only:
            for kind in backends:
                bench_chain(args, results, work, dbs, kind)
    except BenchError as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr)
        if code_digest() != digest:
            print(f"(the code under test changed on disk during the run: digest {digest} -> {code_digest()}; "
                  "processes started after the change ran the new code)", file=sys.stderr)
        return 1
    finally:
        dbs.drop_all()
        shutil.rmtree(work, ignore_errors=True)
    print_table(results)
    if code_digest() != digest:
        print(f"\nWARNING: the code under test changed on disk during the run (digest {digest} -> {code_digest()}): "
              "this process kept the code it imported, processes started later loaded the new code")
    print(f"\ntotal {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.2f} at the end; "
          f"median of {args.runs} runs per figure")
    for label, text_ in results.profiles:
        print(f"\ncProfile: {text_}", end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
