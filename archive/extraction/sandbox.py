"""Running the parsing of an untrusted file in a child process with limits: CPU time, address space, wall clock.

Children are forked from a forkserver that has the parsers imported already, so a child costs a fork, not an
interpreter start. Each child is its own process group (OCR runs Tesseract and Ghostscript below it), gets RLIMIT_CPU
and RLIMIT_AS, and answers in JSON: a compromised parser can send the parent nothing but data. A child that loops,
explodes or crashes (even a segfault in C code) becomes a `SandboxFailure` with a reason a person can read.
"""
from __future__ import annotations

import json
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
           "archive.previews"]
_context_lock = threading.Lock()
_context: Any = None


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 60
    memory_mb: int = 2048
    max_pages: int = 500
    wall_seconds: int = 300


class SandboxFailure(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def run_limited(function: Callable[..., dict], args: tuple, limits: Limits) -> dict:
    """Runs `function(*args)` (module-level, returning a JSON-able dict) in a limited child; returns its dict."""
    reader, writer = _get_context().Pipe(duplex=False)
    child = _get_context().Process(target=_child_main, args=(writer, function, args, limits), daemon=True)
    _start_without_main(child)
    writer.close()
    try:
        if not reader.poll(limits.wall_seconds):
            _kill_group(child.pid)
            raise SandboxFailure(f"time limit: still running after {limits.wall_seconds} s (wall clock); stopped")
        try:
            message = json.loads(reader.recv_bytes())
        except (EOFError, OSError, ValueError):
            child.join(5)
            _kill_group(child.pid)  # what it started may outlive it
            raise SandboxFailure(_death_reason(child.exitcode, limits)) from None
    finally:
        reader.close()
        child.join(5)
    if "error" in message:
        raise SandboxFailure(message["error"])
    return message["result"]


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


def _child_main(writer: Any, function: Callable[..., dict], args: tuple, limits: Limits) -> None:
    os.setsid()  # its own group: the parent can end it and everything it started
    cpu = max(1, limits.cpu_seconds)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    memory = limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.environ["OMP_THREAD_LIMIT"] = "1"  # Tesseract: one thread per page, the CPU limit stays meaningful
    try:
        message = {"result": function(*args)}
    except MemoryError:
        message = {"error": f"memory limit: the parser needed more than {limits.memory_mb} MB"}
    except RecursionError:
        message = {"error": "the parser recursed too deep (a reference loop in the file?)"}
    except Exception as exc:  # noqa: BLE001 - reported to the parent as the reason
        reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
        message = {"error": str(reason)[:1000]}
    try:
        payload = json.dumps(message, default=str).encode()
    except (TypeError, ValueError) as exc:
        payload = json.dumps({"error": f"unserialisable result: {exc}"}).encode()
    writer.send_bytes(payload)
    writer.close()


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
