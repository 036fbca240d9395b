"""Preview benchmark: what server-side PDF page images cost, through the Flask app as a signed-in user.

    .venv/bin/python bench/preview.py                    # the Factur-X sample of the shared corpus, 20 runs
    .venv/bin/python bench/preview.py --pdf some.pdf --runs 30

Files the PDF, then times the document page (it counts the pages in the sandboxed child) and page 1 as PNG (rendered
in the sandboxed child, 1000 px wide). Prints the median and p90 wall time of each over --runs requests after
2 warm-up requests. It prints figures; it only checks that the answers are 200.
"""
from __future__ import annotations

import argparse
import io
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive.accounts import create_user  # noqa: E402
from archive.db import upgrade  # noqa: E402
from audit.log import Actor  # noqa: E402
from config.backends import build_runtime  # noqa: E402
from config.settings import load_settings  # noqa: E402
from web.app import create_app  # noqa: E402

DEFAULT_PDF = ROOT.parent / "shared" / "corpus" / "factur-x-akretion" / "pdf" / "invoice_EN16931.pdf"
PASSWORD = "benchmark password 1"


def signed_in_client(app, rt):
    with rt.transaction() as session:
        create_user(session, rt.clock, Actor.system("bench"), "bench", "admin", PASSWORD)
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token}
                       ).status_code == 302, "login failed"
    return client, re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)


def timed(client, url: str, runs: int) -> list[float]:
    for _ in range(2):
        assert client.get(url).status_code == 200, url
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        response = client.get(url)
        response.get_data()
        times.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, url
    return times


def report(name: str, times: list[float]) -> None:
    p90 = sorted(times)[int(0.9 * (len(times) - 1))]
    print(f"{name:<36} p50 {statistics.median(times):7.1f} ms   p90 {p90:7.1f} ms   ({len(times)} runs)", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdf", type=Path, default=DEFAULT_PDF)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        rt = build_runtime(load_settings(environ={}, data_dir=Path(tmp)))
        upgrade(rt.engine)
        app = create_app(runtime=rt)
        client, csrf = signed_in_client(app, rt)
        response = client.post("/upload", headers={"Accept": "application/json"}, content_type="multipart/form-data",
                               data={"csrf_token": csrf, "doc_type": "invoice", "customer": "C-BENCH",
                                     "file": (io.BytesIO(args.pdf.read_bytes()), args.pdf.name)})
        assert response.status_code == 201, response.get_data(as_text=True)
        document_id = response.json["receipts"][0]["id"]
        print(f"{args.pdf.name}: {args.pdf.stat().st_size:,} bytes", flush=True)
        report("document page (counts the pages)", timed(client, f"/documents/{document_id}", args.runs))
        report("page 1 as PNG", timed(client, f"/documents/{document_id}/pages/1.png", args.runs))
        rt.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
