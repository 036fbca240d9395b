"""Running the parsing of an untrusted file in a separate process with limits: CPU time, address space, wall clock.

Parsing processes ("workers") are forked from a forkserver that has the parsers imported and warmed up already
(archive.extraction.warmup), so starting one costs a fork, not an interpreter start. Each worker is its own process
group (OCR runs Tesseract and Ghostscript below it), lives under RLIMIT_AS, has its RLIMIT_CPU re-armed for every
file, and answers in JSON: a compromised parser can send the parent nothing but data. A file that loops, explodes or
crashes its worker (even a segfault in C code) becomes a `SandboxFailure` with a reason a person can read, and that
worker is never used again.

A worker reads up to `Limits.jobs_per_worker` files before it is replaced (1: a fresh process for every file), and
is replaced at once after any failure or a file that made it grow past half its memory limit. Forking per file cost
more than the parsing itself (about 15 ms against 2 ms for a two-page text PDF).
"""
from __future__ import annotations

import json
import math
import multiprocessing
import os
import resource
import signal
import sys
import threading
import types
from dataclasses import dataclass
from typing import Any, Callable

# Imported once in the forkserver (an ImportError there is skipped, so a parser not yet present costs nothing).
PRELOAD = ["archive.extraction", "archive.extraction.pdf", "archive.extraction.office", "archive.extraction.email",
           "archive.extraction.ocr", "archive.extraction.einvoice", "ocrmypdf", "img2pdf", "PIL.Image",
           "archive.previews", "archive.extraction.warmup"]
MAX_IDLE_WORKERS = max(2, os.cpu_count() or 1)
_context_lock = threading.Lock()
_context: Any = None


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 60
    memory_mb: int = 2048
    max_pages: int = 500
    wall_seconds: int = 300
    jobs_per_worker: int = 100


class SandboxFailure(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def run_limited(function: Callable[..., dict], args: tuple, limits: Limits) -> dict:
    """Runs `function(*args)` (module-level, returning a JSON-able dict) in a limited worker; returns its dict."""
    worker = _POOL.take(limits.memory_mb)
    try:
        message = worker.run(function, args, limits)
    except BaseException:
        worker.stop()
        raise
    if "error" in message or worker.jobs >= limits.jobs_per_worker or message.get("grown"):
        worker.stop()
    else:
        _POOL.give_back(worker)
    if "error" in message:
        raise SandboxFailure(message["error"])
    return message["result"]


class _Worker:
    def __init__(self, memory_mb: int) -> None:
        self.memory_mb, self.jobs = memory_mb, 0
        self.connection, child_end = _get_context().Pipe(duplex=True)
        self.process = _get_context().Process(target=_worker_main, args=(child_end, memory_mb), daemon=True)
        _start_without_main(self.process)
        child_end.close()

    def run(self, function: Callable[..., dict], args: tuple, limits: Limits) -> dict:
        self.jobs += 1
        try:
            self.connection.send((function, args, limits.cpu_seconds))
            if not self.connection.poll(limits.wall_seconds):
                raise SandboxFailure(f"time limit: still running after {limits.wall_seconds} s (wall clock); stopped")
            return json.loads(self.connection.recv_bytes())
        except (EOFError, OSError, ValueError):
            self.process.join(5)
            raise SandboxFailure(_death_reason(self.process.exitcode, limits)) from None

    def stop(self) -> None:
        """Ends the worker and whatever it started; it is never reused."""
        self.connection.close()
        _kill_group(self.process.pid)
        self.process.join(5)


class _Pool:
    """Idle workers of this process; a forked copy of the process starts with none (they belong to its parent)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._pid = os.getpid()

    def take(self, memory_mb: int) -> _Worker:
        with self._lock:
            if self._pid != os.getpid():
                self._idle, self._pid = [], os.getpid()
            while self._idle:
                worker = self._idle.pop()
                if worker.memory_mb == memory_mb and worker.process.is_alive():
                    return worker
                worker.stop()
        return _Worker(memory_mb)

    def give_back(self, worker: _Worker) -> None:
        with self._lock:
            if self._pid == os.getpid():
                self._idle.append(worker)
                worker = self._idle.pop(0) if len(self._idle) > MAX_IDLE_WORKERS else None
        if worker is not None:
            worker.stop()


_POOL = _Pool()


def _start_without_main(child: Any) -> None:
    """Python 3.11's forkserver never preloads `__main__`, so each child would run the parent's main script again
    (for `archive`, the whole application: 0.3-0.6 s per document). The child needs nothing from it: it is started
    while `__main__` is a bare module, so the child has no main script to run."""
    main = sys.modules["__main__"]
    with _context_lock:
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            child.start()
        finally:
            sys.modules["__main__"] = main


def _worker_main(connection: Any, memory_mb: int) -> None:
    os.setsid()  # its own group: the parent can end it and everything it started
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.environ["OMP_THREAD_LIMIT"] = "1"  # Tesseract: one thread per page, the CPU limit stays meaningful
    while True:
        try:
            function, args, cpu_seconds = connection.recv()
        except EOFError:
            return
        _arm_cpu_limit(cpu_seconds)
        message = _answer(function, args, memory_mb)
        message["grown"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 > memory // 2
        try:
            payload = json.dumps(message, default=str).encode()
        except (TypeError, ValueError) as exc:
            payload = json.dumps({"error": f"unserialisable result: {exc}"}).encode()
        connection.send_bytes(payload)


def _arm_cpu_limit(cpu_seconds: int) -> None:
    """RLIMIT_CPU counts the process's whole life, so each file gets the CPU used so far plus its own allowance."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(usage.ru_utime + usage.ru_stime) + max(1, cpu_seconds)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _answer(function: Callable[..., dict], args: tuple, memory_mb: int) -> dict[str, Any]:
    try:
        return {"result": function(*args)}
    except MemoryError:
        return {"error": f"memory limit: the parser needed more than {memory_mb} MB"}
    except RecursionError:
        return {"error": "the parser recursed too deep (a reference loop in the file?)"}
    except Exception as exc:  # noqa: BLE001 - reported to the parent as the reason
        reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
        return {"error": str(reason)[:1000]}


def _death_reason(exitcode: int | None, limits: Limits) -> str:
    if exitcode is None or exitcode >= 0:
        return f"the parser exited without an answer (exit status {exitcode})"
    number = -exitcode
    if number == signal.SIGXCPU:
        return f"CPU limit: the parser used more than {limits.cpu_seconds} s of CPU time"
    if number == signal.SIGKILL:
        return f"the parser was killed (CPU limit of {limits.cpu_seconds} s or out of memory)"
    if number in (signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGILL, signal.SIGFPE):
        return f"the parser crashed ({signal.Signals(number).name}) on this file"
    return f"the parser was ended by {signal.Signals(number).name}"


def _kill_group(pid: int | None) -> None:
    if pid is None:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _get_context() -> Any:
    global _context
    with _context_lock:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)
            _context = context
        return _context
