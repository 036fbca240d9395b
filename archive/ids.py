"""Sortable identifiers (UUIDv7, RFC 9562) exposed as strings."""
from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last = {"ms": 0, "seq": 0}


def new_id() -> str:
    """A UUIDv7 string: 48-bit milliseconds, then a 12-bit counter so ids made in the same ms still sort."""
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last["ms"]:
            ms = _last["ms"]
            _last["seq"] += 1
            if _last["seq"] > 0xFFF:
                ms += 1
                _last["seq"] = 0
        else:
            _last["seq"] = 0
        _last["ms"] = ms
        seq = _last["seq"]
    rand = int.from_bytes(os.urandom(8), "big") & 0x3FFF_FFFF_FFFF_FFFF
    value = (ms << 80) | (0x7 << 76) | (seq << 64) | (0b10 << 62) | rand
    return str(uuid.UUID(int=value))
