"""Crash-test filer: files documents in a loop through the real filing service until it is killed.

Run by tests/integration/test_crash.py as `python tests/integration/crash_filer.py`, with ARCHIVE_DATA_DIR and
ARCHIVE_DATABASE_URL (and the rest of the test's settings as ARCHIVE_* variables) naming its archive. After each
`file_document` / `add_version` call has returned, the receipt is written to stdout as one JSON line and flushed:
a printed receipt is a promise that the document was filed, which the test checks after SIGKILLing this process
at random moments.

Environment read besides the ARCHIVE_* settings:
  CRASH_FILER_SEED  seed for sizes, customers, orders and content (default 0)
  CRASH_FILER_RUN   the run number, written into titles and content so every document is unique (default 0)
  CRASH_FILER_WAIT  if set, import everything and build the runtime (no connection yet), then wait for one line
                    on stdin before touching the archive; the test starts the next filer this way while the current
                    one runs, so a restart costs no import time
"""
from __future__ import annotations

import io
import json
import os
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from archive.filing import add_version, file_document  # noqa: E402
from archive.hashing import spool_stream  # noqa: E402
from archive.metadata import parse_filing  # noqa: E402
from archive.models import Document  # noqa: E402
from audit.log import Actor  # noqa: E402
from config.backends import build_runtime  # noqa: E402
from config.settings import load_settings  # noqa: E402
from tests.fixtures.samples import pdf_bytes  # noqa: E402

CUSTOMERS = [("CRASH-C1", "Alpha GmbH"), ("CRASH-C2", "Beta SARL"), ("CRASH-C3", "Gamma Ltd"), ("CRASH-C4", None)]
ORDERS = [None, "PO-1", "PO-2", "PO-3"]
DOC_TYPES = ["invoice", "delivery_note", "order_confirmation", "credit_note", "correspondence"]
MIN_SIZE, MAX_SIZE = 2 * 1024, 300 * 1024
VERSION_SHARE = 0.2
KNOWN_AT_START = 200


def emit(receipt: dict) -> None:
    # One write of one short line (well under PIPE_BUF), so the reader never sees half a receipt.
    sys.stdout.write(json.dumps(receipt, sort_keys=True) + "\n")
    sys.stdout.flush()


def main() -> None:
    seed = int(os.environ.get("CRASH_FILER_SEED", "0"))
    run = int(os.environ.get("CRASH_FILER_RUN", "0"))
    rng = random.Random(seed)
    rt = build_runtime(load_settings())  # loads the database driver; connects only on first use
    if os.environ.get("CRASH_FILER_WAIT") and not sys.stdin.readline():
        return  # the test ended without needing this filer
    actor = Actor.system("crash-filer")
    with rt.transaction() as session:
        known = list(session.scalars(select(Document.id).order_by(Document.filed_at.desc()).limit(KNOWN_AT_START)))
    counter = 0
    while True:
        counter += 1
        label = f"crash run {run} item {counter}"
        data = pdf_bytes(label, max(0, rng.randint(MIN_SIZE, MAX_SIZE) - 700), rng.randbytes)
        with spool_stream(io.BytesIO(data), rt.blobs.spool_dir(), rt.settings.max_upload_bytes) as spool:
            if known and rng.random() < VERSION_SHARE:
                receipt = add_version(rt, rng.choice(known), spool, actor, filename=f"r{run}-{counter}-v.pdf",
                                      reason=f"{label}: corrected copy")
            else:
                number, name = rng.choice(CUSTOMERS)
                order = rng.choice(ORDERS)
                raw = {"doc_type": rng.choice(DOC_TYPES), "customer": {"number": number, "name": name},
                       "title": label, "external_reference": f"R{run}-{counter}"}
                if order is not None:
                    raw["order"] = {"number": order}
                receipt = file_document(rt, spool, parse_filing(raw), actor, filename=f"r{run}-{counter}.pdf",
                                        channel="crash-test")
                known.append(receipt["id"])
        emit(receipt)


if __name__ == "__main__":
    main()
