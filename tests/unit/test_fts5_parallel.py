"""FTS5 searches lend statements to helper threads (search/fts5_parallel.py): same answers, one snapshot."""
import threading
from datetime import date

import pytest

from search import fts5_search
from search.fts5 import Fts5Index
from search.fts5_parallel import Helpers
from search.index import Query
from search.query import parse
from tests.contract.test_search_index import record

MATCHES = 2 * fts5_search.WINDOW + 300   # three windows, each ranked in two halves (SPLIT_AT)


@pytest.fixture
def index(tmp_path):
    index = Fts5Index(tmp_path / "search.db")
    yield index
    index.close()


def count_rows(conn):
    return conn.execute("SELECT count(*) FROM docs").fetchone()[0], threading.current_thread().name


def every_page(index, q):
    seen, cursor = [], None
    while True:
        page = index.search(Query(parse(q), limit=97, cursor=cursor))
        seen += [(h.id, h.score) for h in page.hits]
        cursor = page.next_cursor
        if cursor is None:
            return seen, page.total


def test_windows_ranked_in_halves_by_helpers_rank_as_one_thread_does(index):
    index.upsert([record(f"r{i:04}", "lot " * (1 + i % 7) + "x " * (i % 13), title="lot" if i % 50 == 0 else None,
                         document_date=date(2020, 1, 1 + i % 28).replace(year=2020 + i % 5))
                  for i in range(MATCHES)])
    assert index._helpers is not None
    with_helpers, total = every_page(index, "lot")
    index._helpers.close()
    index._helpers = None
    alone, _ = every_page(index, "lot")
    assert total == MATCHES and len(with_helpers) == MATCHES and len({i for i, _ in with_helpers}) == MATCHES
    assert [i for i, _ in with_helpers] == [i for i, _ in alone]
    assert [s for _, s in with_helpers] == pytest.approx([s for _, s in alone])
    first_window = [s for _, s in with_helpers[:fts5_search.WINDOW]]
    assert first_window == sorted(first_window, reverse=True) and first_window[0] > first_window[-1]


def test_a_helper_that_reads_another_snapshot_gives_its_task_back(index):
    index.upsert([record("a1", "one")])
    conn = index._conn()
    conn.execute("BEGIN")
    snapshot = index._helpers.snapshot(conn)
    writer = threading.Thread(target=index.upsert, args=([record("a2", "two")],))
    writer.start()
    writer.join()
    rows, thread = snapshot.submit(count_rows).result()
    conn.execute("COMMIT")
    assert rows == 1 and thread == threading.current_thread().name  # the searcher's snapshot, on its own thread
    assert index.search(Query(parse("two"))).total == 1


def test_a_helper_in_the_same_snapshot_does_the_task(index):
    index.upsert([record("a1", "one")])
    conn = index._conn()
    conn.execute("BEGIN")
    rows, thread = index._helpers.snapshot(conn).submit(count_rows).result()
    conn.execute("COMMIT")
    assert rows == 1 and thread.startswith("fts5-helper")


def test_a_task_no_helper_has_started_is_done_by_the_searcher(index):
    helpers = Helpers(index._conn, workers=1)
    release = threading.Event()
    conn = index._conn()
    conn.execute("BEGIN")
    snapshot = helpers.snapshot(conn)
    busy = snapshot.submit(lambda _conn: release.wait(10))
    rows, thread = snapshot.submit(count_rows).result()
    release.set()
    assert busy.result() is True
    conn.execute("COMMIT")
    helpers.close()
    assert rows == 0 and thread == threading.current_thread().name
