"""FTS5 ranks by BM25 within windows of the WINDOW newest matches (search/fts5.py): paging crosses windows."""
from datetime import date

import pytest

from search import fts5_search
from search.fts5 import Fts5Index
from search.index import Query
from search.query import parse
from tests.conftest import missing_service
from tests.contract.test_search_index import record

MATCHES = 2 * fts5_search.WINDOW + 300   # three windows


@pytest.fixture(params=["rank_bm25", "bm25"])
def index(tmp_path, request):
    index = Fts5Index(tmp_path / "search.db", native_rank=request.param == "rank_bm25")
    if index.ranking != request.param:
        missing_service("search._fts5_rank is not built (make install compiles it)")
    yield index
    index.close()


def test_a_cursor_visits_every_match_of_every_window_once_ranked_within_each(index):
    index.upsert([record(f"r{i:04}", "lot " * (1 + i % 7) + "x " * (i % 13), title="lot" if i % 50 == 0 else None,
                         document_date=date(2020 + i % 5, 1, 1 + i % 28))
                  for i in range(MATCHES)])
    seen, cursor = [], None
    while True:
        page = index.search(Query(parse("lot"), limit=97, cursor=cursor))
        seen += [(h.id, h.score) for h in page.hits]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert page.total == MATCHES and len(seen) == MATCHES and len({i for i, _ in seen}) == MATCHES
    first_window = [s for _, s in seen[:fts5_search.WINDOW]]
    assert first_window == sorted(first_window, reverse=True) and first_window[0] > first_window[-1]
    assert seen[fts5_search.WINDOW][1] > seen[fts5_search.WINDOW - 1][1]  # the next window ranks anew
