"""One contract for every SearchIndex implementation. Each test runs against SQLite FTS5 and Elasticsearch."""
import os
import uuid

import pytest

from tests.conftest import missing_service


@pytest.fixture(params=["fts5", "elastic"])
def search_index(request, tmp_path):
    if request.param == "fts5":
        from search.fts5 import Fts5Index
        index = Fts5Index(tmp_path / "search.db")
    else:
        url = os.environ.get("ARCHIVE_TEST_ELASTICSEARCH_URL")
        if not url:
            missing_service("ARCHIVE_TEST_ELASTICSEARCH_URL is not set; run scripts/services.sh")
        from search.elastic import ElasticIndex
        index = ElasticIndex(url, index_name=f"archive-test-{uuid.uuid4().hex[:10]}", refresh=True)
    yield index
    getattr(index, "drop", index.clear)()  # an Elasticsearch test index is deleted, not just emptied
    index.close()
