"""FTS5 writes: bulk() batches (errors reach the caller, no lock is held between batches, reads see every write),
codes assigned per batch, and values SQLite must store as given."""
import threading

import pytest

import search.fts5
import search.fts5_rowid
from search.fts5 import BULK_MERGE, HASH_BYTES, NORMAL_MERGE, Fts5Index
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


def test_a_cleared_index_keeps_its_fts5_settings(index):
    """`archive search reindex` clears the index, then loads it in bulk: with FTS5's 1 MiB default hashsize, each
    batch would write dozens of segments."""
    index.clear()
    assert index._conn().execute("SELECT v FROM fts_config WHERE k = 'hashsize'").fetchone() == (HASH_BYTES,)


def merge_policy(index):
    config = dict(index._conn().execute("SELECT k, v FROM fts_config WHERE k IN ('automerge', 'crisismerge')"))
    return {key: config.get(key, default) for key, default in NORMAL_MERGE.items()}


def test_bulk_leaves_merging_to_optimize_and_restores_the_policy_after(index, tmp_path):
    assert merge_policy(index) == NORMAL_MERGE != BULK_MERGE
    with index.bulk() as bulk:
        bulk.upsert([record(f"m{k}", "palette") for k in range(7)])
        assert merge_policy(index) == BULK_MERGE
    assert merge_policy(index) == NORMAL_MERGE
    with index.bulk():
        pass
    index.close()
    with index._writing() as conn:  # as a bulk load that died leaves it
        index._set_merge(conn, BULK_MERGE)
    index.close()
    reopened = Fts5Index(tmp_path / "search.db")
    assert merge_policy(reopened) == NORMAL_MERGE
    reopened.close()


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
    assert not index._conn().in_transaction and merge_policy(index) == NORMAL_MERGE
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


def test_text_with_nul_characters_is_indexed_kept_and_removed(index):
    index.upsert([record("n1", "avant\x00apres palette", title="Titre\x00nul", references=("REF\x001",),
                         customer_number="C-\x002")])
    assert found(index, "avant") == found(index, "apres") == found(index, "titre") == ["n1"]
    hit = index.search(Query(parse("palette"))).hits[0]
    assert hit.title == "Titre\x00nul" and hit.customer_number == "C-\x002"
    assert index.search(Query(parse("palette"))).facets["customer"] == {"C-\x002": 1}
    index.upsert([record("n1", "carton")])  # FTS5's delete recomputes the old values from the stored text
    assert found(index, "avant") == found(index, "titre") == [] and found(index, "carton") == ["n1"]
    index._conn().execute("INSERT INTO fts(fts) VALUES ('integrity-check')")


def test_one_write_assigns_the_codes_of_all_its_new_values(index, monkeypatch):
    monkeypatch.setitem(search.fts5_rowid.FIELDS, "c", (search.fts5_rowid.CUSTOMER_SHIFT, 5))
    statements = []
    index._conn().set_trace_callback(statements.append)
    index.upsert([record(f"k{k}", "palette", customer_number=f"C-{k % 8}") for k in range(40)])
    index._conn().set_trace_callback(None)
    codes = dict(index._conn().execute("SELECT value, code FROM codes WHERE kind = 'c'").fetchall())
    assert sorted(codes.values()) == [1, 2, 3, 4, 5] and len(codes) == 5  # the other 3 customers: code 0
    assert sum("codes" in s for s in statements) <= 4
    assert {f"C-{k}" for k in range(8)} == {hit.customer_number for hit in
                                            index.search(Query(parse("palette"), limit=50)).hits}
    assert found(index, "customer:C-7") == [f"k{k}" for k in sorted(range(7, 40, 8), key=str)]


def test_an_amount_no_float_holds_is_stored_as_none(index):
    from decimal import Decimal
    index.upsert([record("i1", "palette", amount=Decimal("Infinity")),
                  record("i2", "palette", amount=Decimal("1E+400")), record("i3", "palette", amount=Decimal("12.50"))])
    assert found(index, "palette") == ["i1", "i2", "i3"] and found(index, "palette amount:>10") == ["i3"]
