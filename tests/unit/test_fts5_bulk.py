"""FTS5's bulk(): a writer thread writes batches while the caller prepares the next; errors reach the caller, and
no lock is held between batches."""
import threading

import pytest

import search.fts5
from search.fts5 import HASH_BYTES, Fts5Index
from search.index import Query
from search.query import parse
from tests.contract.test_search_index import record


@pytest.fixture
def index(tmp_path, monkeypatch):
    monkeypatch.setattr(search.fts5, "BULK_COMMIT", 2)
    index = Fts5Index(tmp_path / "search.db")
    yield index
    index.close()


def found(index, q):
    return sorted(hit.id for hit in index.search(Query(parse(q), limit=50)).hits)


def test_searches_inside_bulk_see_every_upsert(index):
    with index.bulk() as bulk:
        bulk.upsert([record("a1", "palette"), record("a2", "palette"), record("a3", "palette")])
        assert found(bulk, "palette") == ["a1", "a2", "a3"]
        bulk.upsert([record("a4", "palette")])
        assert found(bulk, "palette") == ["a1", "a2", "a3", "a4"]
    assert index._conn().execute("SELECT v FROM fts_config WHERE k = 'hashsize'").fetchone() == (HASH_BYTES,)


def test_a_failed_batch_is_raised_to_the_caller_and_leaves_the_index_usable(index, monkeypatch):
    write, calls = Fts5Index._write, []

    def failing_second_batch(self, conn, rows):
        calls.append([row.record.id for row in rows])
        if len(calls) == 2:
            raise RuntimeError("disk full")
        write(self, conn, rows)

    monkeypatch.setattr(Fts5Index, "_write", failing_second_batch)
    committed = []
    with pytest.raises(RuntimeError, match="disk full"):
        with index.bulk(committed=committed.append) as bulk:
            for k in range(0, 8, 2):
                bulk.upsert([record(f"b{k}", "carton"), record(f"b{k + 1}", "carton")])
    assert committed == ["b1"] and found(index, "carton") == ["b0", "b1"]
    assert calls[1] == ["b2", "b3"] and len(calls) == 2  # nothing is written after the failure is seen
    assert not index._conn().in_transaction
    assert not [t for t in threading.enumerate() if t.name.startswith("fts5-bulk")]
    index.upsert([record("b9", "carton")])
    assert found(index, "carton") == ["b0", "b1", "b9"]


def test_other_threads_write_between_batches(index):
    done = threading.Event()

    def file_one():
        index.upsert([record("live", "palette")])
        done.set()

    with index.bulk() as bulk:
        bulk.upsert([record("r1", "palette"), record("r2", "palette")])
        bulk.upsert([record("r3", "palette")])  # pending: no transaction is open for it
        writer = threading.Thread(target=file_one)
        writer.start()
        assert done.wait(10), "a plain upsert waited for the bulk load"
        writer.join()
    assert found(index, "palette") == ["live", "r1", "r2", "r3"]
