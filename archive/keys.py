"""Master key rotation: data keys are re-wrapped under a new master key; blobs are never rewritten.

Two steps, because running servers keep the keyring they started with:
1. `rotate-master` puts a new key first in the key file and re-wraps every data key under it. Older keys stay
   listed, so anything a running server wraps with them meanwhile stays readable.
2. After the servers restart, `prune-master` re-wraps once more and drops every older key from the file. Only then
   are copies of the key directory from before the rotation (backups included) undecryptable: this is what makes
   crypto-shredding reach into backups.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from archive.encryption import new_master_key_text, parse_keyring
from archive.errors import InvalidInput
from archive.runtime import Runtime
from audit.log import Actor, append


def rotate_master_key(rt: Runtime, actor: Actor) -> dict[str, Any]:
    path, lines = _key_file(rt)
    old_ring = parse_keyring("\n".join(lines))
    lines.insert(0, new_master_key_text())
    return _rewrap(rt, actor, path, lines, "master_key.rotated", old_ring.current.key_id)


def prune_master_keys(rt: Runtime, actor: Actor) -> dict[str, Any]:
    path, lines = _key_file(rt)
    return _rewrap(rt, actor, path, lines[:1], "master_key.pruned",
                   [k.key_id for k in parse_keyring("\n".join(lines)).keys[1:]])


def _rewrap(rt: Runtime, actor: Actor, path: Path, lines: list[str], action: str, previous: Any) -> dict[str, Any]:
    store = rt.blobs
    if not hasattr(store, "rewrap"):
        raise InvalidInput("encryption at rest is off: there are no data keys to re-wrap", code="encryption_off")
    full_ring = parse_keyring("\n".join(lines + [k for k in _read_lines(path) if k not in lines]))
    store.keyring = full_ring  # unwrap with any key, wrap with the new first one
    rewrapped = store.rewrap()
    _write_atomically(path, "\n".join(lines) + "\n")
    store.keyring = parse_keyring("\n".join(lines))
    result = {"current_key_id": store.keyring.current.key_id, "previous": previous, "rewrapped": rewrapped,
              "keys_in_file": len(lines)}
    with rt.transaction() as session:
        append(session, rt.clock, actor, action, "master_key", result)
    return result


def _key_file(rt: Runtime) -> tuple[Path, list[str]]:
    if rt.settings.master_key:
        raise InvalidInput("the master key comes from ARCHIVE_MASTER_KEY: put a new key first in that list (keep "
                           "the old ones after it), restart, then run `archive keys prune-master` with only the "
                           "new key", code="master_key_from_environment")
    path = Path(rt.settings.master_key_file)
    return path, _read_lines(path)


def _read_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="ascii").splitlines()
            if line.strip() and not line.startswith("#")]


def _write_atomically(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.new")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)



