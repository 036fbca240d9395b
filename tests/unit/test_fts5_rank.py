"""BM25 over the rowid's length code (search/_fts5_rank.c, search/fts5_rowid.py): the same scores as FTS5's bm25()
wherever the code holds the exact length, the same lengths as FTS5 counts, and rowids that lend when a group is full."""
import random
import sqlite3
from collections import Counter

import pytest

from search import fts5_rowid
from search.fts5 import Fts5Index
from search.fts5_rowid import LENGTH_MASK, LENGTH_SHIFT, length_code, length_of
from search.fts5_text import MARK, _fold_runs_re, _token_count_re, fts_values, index_fold, token_count
from search.normalize import fold
from search.index import Query
from search.query import parse
from tests.conftest import missing_service
from tests.contract.test_search_index import record

try:
    from search import _fts5_rank
except ImportError:
    _fts5_rank = None


@pytest.fixture
def rank():
    if _fts5_rank is None:
        missing_service("search._fts5_rank is not built (make install compiles it)")
    return _fts5_rank


def test_length_codes_are_exact_to_seven_then_at_most_a_quarter_apart():
    assert [length_code(n) for n in range(9)] == list(range(9))
    assert [length_of(c) for c in range(9)] == list(range(9))
    previous = 0
    for n in range(1, 140_000):
        code = length_code(n)
        assert code >= previous and length_of(code) <= n
        if code < LENGTH_MASK:
            assert n < length_of(code + 1) <= 1.25 * length_of(code) + 1
        previous = code
    assert length_code(131_071) == length_code(10**9) == LENGTH_MASK


def _docs_with_codable_lengths(rng):
    """Documents whose length (both columns) is a code's exact length, with the code in the rowid."""
    words = ["lot", "palette", "facture", "retour", "colis", "x", "y"]
    docs = []
    for n in range(1, 200):
        length = length_of(rng.choice([c for c in range(1, 30)]))
        title_length = rng.randint(0, min(length, 3))
        title = " ".join(rng.choice(words) for _ in range(title_length))
        body = " ".join(rng.choice(words) for _ in range(length - title_length))
        docs.append((length_code(length) << LENGTH_SHIFT | n << 1, title, body))
    return docs


def test_rank_bm25_scores_as_bm25_when_the_code_is_the_exact_length(rank):
    conn = sqlite3.connect(":memory:")
    rank.register(conn)
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(title, body, tokenize='unicode61 remove_diacritics 2')")
    conn.executemany("INSERT INTO t(rowid, title, body) VALUES (?, ?, ?)",
                     _docs_with_codable_lengths(random.Random(7)))
    code = f"(rowid >> {LENGTH_SHIFT}) & {LENGTH_MASK}"
    for match in ("lot", "lot palette", '"facture retour"', "colis OR x", "retour NOT lot", "pal*", "title: lot x"):
        for weights in ("", ", 5.0, 1.0", ", 0.0, 1.0", ", 1.0, 0.0"):  # a weight of 0: its phrases add nothing
            rows = conn.execute(f"SELECT bm25(t{weights}), rank_bm25(t, {code}{weights}) FROM t WHERE t MATCH ?",
                                [match]).fetchall()
            assert len(rows) > 3, match
            for stored, coded in rows:
                assert coded == pytest.approx(stored, rel=1e-12, abs=1e-12), (match, weights)


def test_rank_bm25_takes_the_length_from_its_argument(rank):
    conn = sqlite3.connect(":memory:")
    rank.register(conn)
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(body)")
    conn.executemany("INSERT INTO t(rowid, body) VALUES (?, ?)", [(1, "lot a b c"), (2, "lot a b c")])
    short, long = (s for (s,) in conn.execute("SELECT rank_bm25(t, rowid * 20) FROM t WHERE t MATCH 'lot' "
                                              "ORDER BY rowid"))
    assert short < long < 0  # negated, as bm25(): the shorter document (code 20) ranks first


def test_register_refuses_what_is_not_an_open_connection(rank):
    with pytest.raises(TypeError):
        rank.register("search.db")
    conn = sqlite3.connect(":memory:")
    conn.close()
    with pytest.raises(ValueError):
        rank.register(conn)


@pytest.mark.parametrize("text", [
    "Facture n° 2024/0042 du 15.07.2024 — Straße 12, 75001 Paris",
    "snake_case and kebab-case, e-mail: a.b@example.com; 3,5 % TVA",
    "Ünïcödé œuvre ﬁn ½ ² Ⅻ 東京都 emoji 📦 tab\tnew\nline",
    f"{MARK}a {MARK}t696e766f696365 {MARK}ipo20240042",
    "",
])
def test_token_count_is_what_fts5_counts(text):
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(a, b, tokenize='unicode61 remove_diacritics 2')")
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, instance)")
    conn.execute("INSERT INTO t(rowid, a, b) VALUES (1, ?, ?)", (text, text.upper()))
    (counted,) = conn.execute("SELECT count(*) FROM v").fetchone()
    assert token_count([text, text.upper()]) == counted
    assert _token_count_re([text, text.upper()]) == counted


def test_the_native_token_count_is_the_expression_s_on_any_text(rank):
    assert token_count is rank.token_count
    draw = random.Random(7)
    planes = [(0, 0x80), (0x80, 0x250), (0x250, 0x3000), (0x3000, 0x10000), (0x10000, 0x30000), (0xE0000, 0x110000)]
    for _ in range(3000):
        texts = []
        for _ in range(draw.randint(1, 3)):
            low, high = draw.choice(planes)
            chars = [chr(draw.randrange(low, high)) for _ in range(draw.randint(0, 40))]
            texts.append("".join(c for c in chars if not 0xD800 <= ord(c) < 0xE000) + draw.choice(["", " a", "_1"]))
        assert rank.token_count(texts) == _token_count_re(texts), texts


def test_the_native_token_count_takes_a_sequence_of_str(rank):
    assert rank.token_count(("ab cd", "", "é")) == 3
    with pytest.raises(TypeError):
        rank.token_count(["ok", b"bytes"])
    with pytest.raises(TypeError):
        rank.token_count(42)


def test_the_native_fold_of_non_ascii_runs_is_the_expression_s_on_any_text(rank):
    draw = random.Random(11)
    planes = [(0, 0x80), (0x80, 0x100), (0x100, 0x3000), (0x10000, 0x30000)]
    native_cache, re_cache = {}, {}
    for _ in range(3000):
        pieces = [chr(draw.randrange(*draw.choice(planes))) for _ in range(draw.randint(0, 30))]
        text = "".join(c for c in pieces if not 0xD800 <= ord(c) < 0xE000)
        folded = rank.fold_runs(text, native_cache, fold)
        assert folded == _fold_runs_re(text, re_cache, fold), text
        assert folded.lower() == fold(text).lower(), text  # index_fold: fold() up to case
    assert native_cache == re_cache and native_cache


def test_the_native_fold_reuses_cached_runs_and_passes_errors_on(rank):
    assert rank.fold_runs("Straße, œuvre", {"ß": "SS"}, fold) == "StraSSe, oeuvre"
    text = "plain ascii"
    assert rank.fold_runs(text, {}, fold) is text and index_fold("Ünïcode") == "unicode"

    def failing(run):
        raise ValueError(run)
    with pytest.raises(ValueError, match="é"):
        rank.fold_runs("café", {}, failing)
    with pytest.raises(TypeError):
        rank.fold_runs(b"bytes", {}, fold)


def _rowids(index):
    return [n for (n,) in index._conn().execute("SELECT n FROM docs ORDER BY id")]


def test_a_full_group_lends_rowids_from_the_nearest_length_codes(tmp_path, monkeypatch):
    monkeypatch.setattr(fts5_rowid, "SEQ_MAX", 2)
    index = Fts5Index(tmp_path / "search.db")
    try:
        index.upsert([record(f"d{i}", "lot palette") for i in range(6)])
        index.upsert([record(f"e{i}", "lot palette") for i in range(3)])  # a new transaction reads what is full
        rowids = _rowids(index)
        home = rowids[0] >> LENGTH_SHIFT & LENGTH_MASK
        assert Counter((n >> LENGTH_SHIFT & LENGTH_MASK) - home for n in rowids) == {0: 2, -1: 2, 1: 2, -2: 2, 2: 1}
        assert len({n >> fts5_rowid.STATUS_SHIFT for n in rowids}) == 1 and len(set(rowids)) == 9
        assert index.search(Query(parse("lot"), limit=20)).total == 9
    finally:
        index.close()


def test_when_every_length_code_is_full_rowids_come_from_customer_code_zero(tmp_path, monkeypatch):
    monkeypatch.setattr(fts5_rowid, "SEQ_MAX", 1)
    index = Fts5Index(tmp_path / "search.db")
    try:
        index.upsert([record(f"d{i:02}", "lot palette") for i in range(LENGTH_MASK + 3)])
        customers = Counter(n >> fts5_rowid.CUSTOMER_SHIFT & 0x3FFF for n in _rowids(index))
        assert sorted(customers.values()) == [2, LENGTH_MASK + 1] and customers[0] == 2
        page = index.search(Query(parse("lot"), limit=5, facets=True))
        assert page.total == LENGTH_MASK + 3 and page.facets["customer"] == {"C-1042": LENGTH_MASK + 3}
    finally:
        index.close()


def test_without_the_module_fts5_ranks_with_bm25(tmp_path):
    index = Fts5Index(tmp_path / "search.db", native_rank=False)
    try:
        index.upsert([record("short", "lot"), record("long", "lot " + "filler " * 40)])
        assert index.ranking == "bm25"
        assert [h.id for h in index.search(Query(parse("lot"))).hits] == ["short", "long"]
    finally:
        index.close()


def test_with_the_module_fts5_keeps_no_row_lengths(tmp_path, rank):
    """rank_bm25() reads lengths from rowids, so %_docsize is not written (columnsize=0); bm25() needs it, so an
    index opened with the other ranking is emptied, for a reindex."""
    def tables(index):
        return {name for (name,) in index._conn().execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    records = [record("short", "lot"), record("long", "lot " + "filler " * 40)]
    native = Fts5Index(tmp_path / "search.db")
    try:
        native.upsert(records)
        assert "fts_docsize" not in tables(native) and "fts_data" in tables(native)
        assert [h.id for h in native.search(Query(parse("lot"))).hits] == ["short", "long"]
    finally:
        native.close()
    without = Fts5Index(tmp_path / "search.db", native_rank=False)
    try:
        assert "fts_docsize" in tables(without) and without.search(Query(parse("lot"))).total == 0
        without.upsert(records)
        assert [h.id for h in without.search(Query(parse("lot"))).hits] == ["short", "long"]
    finally:
        without.close()
    again = Fts5Index(tmp_path / "search.db")
    try:
        assert "fts_docsize" not in tables(again) and again.search(Query(parse("lot"))).total == 0
    finally:
        again.close()


def test_the_module_is_built_and_used(tmp_path, rank):
    index = Fts5Index(tmp_path / "search.db")
    try:
        assert index.ranking == "rank_bm25"
        index.upsert([record("short", "lot"), record("long", "lot " + "filler " * 40)])
        assert [h.id for h in index.search(Query(parse("lot"))).hits] == ["short", "long"]
    finally:
        index.close()


def test_token_spans_refuses_arguments_of_the_wrong_type(rank):
    """search/snippets.py tests what it finds, on texts of every string width."""
    spans = rank.token_spans
    with pytest.raises(TypeError):
        spans("text", {"word"}, (), {}, fold, 10, False)
    with pytest.raises(TypeError):
        spans("text", frozenset(), ("ok", 3), {}, fold, 10, False)
    with pytest.raises(TypeError):
        spans("täxt", frozenset(["word"]), (), {}, lambda token: 3, 10, False)
    with pytest.raises(ZeroDivisionError):
        spans("täxt", frozenset(["word"]), (), {}, lambda token: 1 / 0, 10, False)
    cache = {}
    assert spans("täxt TÄXT", frozenset(["taxt"]), (), cache, fold, 10, False) == [(0, 4), (5, 9)]
    assert cache == {"täxt": "taxt", "TÄXT": "taxt"}


def test_ids_hold_the_keys_that_join_segments_and_refs_the_segments():
    title, refs, body, ids, meta = fts_values(None, ["INV-2024/0042"], "PO-2024/0077", "C-1042", "Globex", None,
                                              "Text", "invoice", "active")
    assert ids.split() == [MARK + "i" + key for key in ("inv20240042", "20240042", "po20240077", "20240077", "c1042")]
    assert refs.split() == ["INV-2024/0042", "PO-2024/0077", "C-1042"]
    assert meta.split()[0] == MARK + "a" and body == "Text\nGlobex"
