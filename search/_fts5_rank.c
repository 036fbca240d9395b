/* rank_bm25(): FTS5's bm25() with the document length taken from an argument instead of the %_docsize table.
 *
 * bm25() reads every ranked row's length from %_docsize: one B-tree seek per row, about 80 % of the time it takes
 * to rank a window of matches. The FTS5 backend keeps a 6-bit length code in each rowid (search/fts5_rowid.py), so
 * the search passes `rank_bm25(fts, (rowid >> LENGTH_SHIFT) & 63, w1, w2, ...)` and no row is looked up.
 *
 * The score is bm25()'s (fts5_aux.c, k1 = 1.2, b = 0.75, IDF floor 1e-6, negated so that ORDER BY ascends), with
 * the length decoded as search/fts5_rowid.py:length_of() does: codes 0-7 are exact, above them two mantissa bits.
 * Only the IDFs that a score uses are counted (phrase_idf).
 *
 * Python's sqlite3 module has no FTS5 API, so register() takes the sqlite3 handle out of a sqlite3.Connection. This
 * module links the same libsqlite3 as that module; search/fts5.py falls back to bm25() when it is not built.
 *
 * It also holds the text loops that ran per character in Python: token_count() and fold_runs() for indexing,
 * token_spans() for snippets. Each has a Python equivalent, used when the module is not built.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <math.h>
#include <sqlite3.h>
#include <string.h>

/* CPython's Modules/_sqlite/connection.h: the handle is the first field of every version this builds for. */
typedef struct {
    PyObject_HEAD
    sqlite3 *db;
} SqliteConnection;

typedef struct {
    int n_phrase;
    sqlite3_int64 rows;
    double avgdl;
    double *idf;
    double *freq;
} RankData;

static double length_of(sqlite3_int64 code) {
    if (code < 8) return (double)code;
    return (double)(((code & 3) + 4) << ((code >> 2) - 1));
}

static int count_hit(const Fts5ExtensionApi *api, Fts5Context *fts, void *hits) {
    (void)api;
    (void)fts;
    (*(sqlite3_int64 *)hits)++;
    return SQLITE_OK;
}

/* Once per statement: the average document length; each phrase's IDF is left for phrase_idf(). */
static int rank_data(const Fts5ExtensionApi *api, Fts5Context *fts, RankData **out) {
    RankData *data = (RankData *)api->xGetAuxdata(fts, 0);
    if (data != 0) {
        *out = data;
        return SQLITE_OK;
    }
    int n_phrase = api->xPhraseCount(fts);
    data = (RankData *)sqlite3_malloc64(sizeof(RankData) + sizeof(double) * 2 * (sqlite3_uint64)n_phrase);
    if (data == 0) return SQLITE_NOMEM;
    memset(data, 0, sizeof(RankData) + sizeof(double) * 2 * (size_t)n_phrase);
    data->n_phrase = n_phrase;
    data->idf = (double *)&data[1];
    data->freq = &data->idf[n_phrase];
    int rc = api->xRowCount(fts, &data->rows);
    sqlite3_int64 tokens = 0;
    if (rc == SQLITE_OK) rc = api->xColumnTotalSize(fts, -1, &tokens);
    if (rc == SQLITE_OK) data->avgdl = data->rows > 0 ? (double)tokens / (double)data->rows : 1.0;
    if (rc == SQLITE_OK) rc = api->xSetAuxdata(fts, data, sqlite3_free);
    if (rc != SQLITE_OK) {
        sqlite3_free(data);
        return rc;
    }
    *out = data;
    return SQLITE_OK;
}

/* A phrase's IDF, as bm25() computes it, counted when a row first needs it. bm25() counts every phrase up front,
 * even one that only matches a weight-0 column (the filter tokens): counting a customer's 100,000 documents to
 * multiply by zero. */
static int phrase_idf(const Fts5ExtensionApi *api, Fts5Context *fts, RankData *data, int phrase) {
    if (data->idf[phrase] > 0.0) return SQLITE_OK;
    sqlite3_int64 hits = 0;
    int rc = api->xQueryPhrase(fts, phrase, (void *)&hits, count_hit);
    if (rc == SQLITE_OK) {
        double idf = log((data->rows - hits + 0.5) / (hits + 0.5));
        data->idf[phrase] = idf <= 0.0 ? 1e-6 : idf;
    }
    return rc;
}

static void rank_bm25(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *result, int n_arg,
                      sqlite3_value **args) {
    const double k1 = 1.2, b = 0.75;
    if (n_arg < 1) {
        sqlite3_result_error(result, "rank_bm25: the first argument is the length code", -1);
        return;
    }
    RankData *data = 0;
    int rc = rank_data(api, fts, &data);
    int n_inst = 0;
    if (rc == SQLITE_OK) {
        memset(data->freq, 0, sizeof(double) * (size_t)data->n_phrase);
        rc = api->xInstCount(fts, &n_inst);
    }
    for (int i = 0; rc == SQLITE_OK && i < n_inst; i++) {
        int phrase, column, offset;
        rc = api->xInst(fts, i, &phrase, &column, &offset);
        if (rc == SQLITE_OK) data->freq[phrase] += n_arg > column + 1 ? sqlite3_value_double(args[column + 1]) : 1.0;
    }
    if (rc != SQLITE_OK) {
        sqlite3_result_error_code(result, rc);
        return;
    }
    double norm = k1 * (1 - b + b * length_of(sqlite3_value_int64(args[0]) & 63) / data->avgdl);
    double score = 0.0;
    for (int i = 0; rc == SQLITE_OK && i < data->n_phrase; i++) {
        if (data->freq[i] == 0.0) continue;  /* adds 0 whatever the IDF */
        rc = phrase_idf(api, fts, data, i);
        score += data->idf[i] * (data->freq[i] * (k1 + 1.0)) / (data->freq[i] + norm);
    }
    if (rc != SQLITE_OK) {
        sqlite3_result_error_code(result, rc);
        return;
    }
    sqlite3_result_double(result, -1.0 * score);
}

static fts5_api *fts5_api_of(sqlite3 *db) {
    fts5_api *api = 0;
    sqlite3_stmt *stmt = 0;
    if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &stmt, 0) != SQLITE_OK) return 0;
    sqlite3_bind_pointer(stmt, 1, (void *)&api, "fts5_api_ptr", 0);
    sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    return api;
}

static PyObject *connection_type;

static PyObject *register_rank(PyObject *module, PyObject *connection) {
    (void)module;
    int is_connection = PyObject_IsInstance(connection, connection_type);
    if (is_connection < 0) return NULL;
    if (!is_connection) {
        PyErr_SetString(PyExc_TypeError, "register() takes a sqlite3.Connection");
        return NULL;
    }
    sqlite3 *db = ((SqliteConnection *)connection)->db;
    if (db == 0) {
        PyErr_SetString(PyExc_ValueError, "the connection is closed");
        return NULL;
    }
    fts5_api *api = fts5_api_of(db);
    if (api == 0 || api->iVersion < 2) {
        PyErr_SetString(PyExc_RuntimeError, "this SQLite has no FTS5 API");
        return NULL;
    }
    if (api->xCreateFunction(api, "rank_bm25", 0, rank_bm25, 0) != SQLITE_OK) {
        PyErr_SetString(PyExc_RuntimeError, "could not register rank_bm25");
        return NULL;
    }
    Py_RETURN_NONE;
}

/* The tokens unicode61 finds in a text, for the length code: runs of characters that are letters or digits to
 * Python (str.isalnum(), what the pattern [^\W_]+ matches), as search/fts5_text.py:_token_count_re() counts them. */
#define COUNT_RUNS(type) do { \
        const type *chars = (const type *)data; \
        for (Py_ssize_t i = 0; i < length; i++) { \
            Py_UCS4 ch = chars[i]; \
            int alnum = ch < 128 ? ascii_alnum[ch] : Py_UNICODE_ISALNUM(ch); \
            tokens += alnum & !inside; \
            inside = alnum; \
        } \
    } while (0)

static unsigned char ascii_alnum[128];

static Py_ssize_t count_runs(PyObject *text) {
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t length = PyUnicode_GET_LENGTH(text), tokens = 0;
    int inside = 0;
    switch (PyUnicode_KIND(text)) {
    case PyUnicode_1BYTE_KIND: COUNT_RUNS(Py_UCS1); break;
    case PyUnicode_2BYTE_KIND: COUNT_RUNS(Py_UCS2); break;
    default: COUNT_RUNS(Py_UCS4); break;
    }
    return tokens;
}

static PyObject *token_count(PyObject *module, PyObject *values) {
    (void)module;
    PyObject *items = PySequence_Fast(values, "token_count() takes a sequence of str");
    if (items == NULL) return NULL;
    Py_ssize_t tokens = 0, n = PySequence_Fast_GET_SIZE(items);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *value = PySequence_Fast_GET_ITEM(items, i);
        if (!PyUnicode_Check(value)) {
            Py_DECREF(items);
            PyErr_SetString(PyExc_TypeError, "token_count() takes a sequence of str");
            return NULL;
        }
#if PY_VERSION_HEX < 0x030C0000
        if (PyUnicode_READY(value) < 0) {
            Py_DECREF(items);
            return NULL;
        }
#endif
        tokens += count_runs(value);
    }
    Py_DECREF(items);
    return PyLong_FromSsize_t(tokens);
}

/* fold_runs(text, cache, fold): text with each run of non-ASCII characters replaced by fold(run), looked up in
 * (and, while it holds fewer than FOLD_CACHE_MAX runs, added to) the dict cache; ASCII is copied as it is. What
 * search/fts5_text.py:_fold_runs_re() does with a regular expression, which took 20 us for a text of 1 KB. */
#define FOLD_CACHE_MAX 100000

#define NEXT_RUN(type) do { \
        const type *chars = (const type *)data; \
        while (start < length && chars[start] < 128) start++; \
        end = start; \
        while (end < length && chars[end] >= 128) end++; \
    } while (0)

/* fold(key), looked up in the dict cache, or computed and added while the cache holds fewer than FOLD_CACHE_MAX
 * entries; a new reference, NULL on error. */
static PyObject *cached_fold(PyObject *key, PyObject *cache, PyObject *fold) {
    PyObject *folded = PyDict_GetItemWithError(cache, key);
    if (folded != NULL) return Py_NewRef(folded);
    if (PyErr_Occurred()) return NULL;
    folded = PyObject_CallOneArg(fold, key);
    if (folded != NULL && PyDict_GET_SIZE(cache) < FOLD_CACHE_MAX && PyDict_SetItem(cache, key, folded) < 0)
        Py_CLEAR(folded);
    return folded;
}

static int append_folded(PyObject *pieces, PyObject *run, PyObject *cache, PyObject *fold) {
    PyObject *folded = cached_fold(run, cache, fold);
    if (folded == NULL) return -1;
    int failed = PyList_Append(pieces, folded);
    Py_DECREF(folded);
    return failed;
}

static int append_slice(PyObject *pieces, PyObject *text, Py_ssize_t start, Py_ssize_t end,
                        PyObject *cache, PyObject *fold) {
    PyObject *slice = PyUnicode_Substring(text, start, end);
    if (slice == NULL) return -1;
    int failed = fold != NULL ? append_folded(pieces, slice, cache, fold) : PyList_Append(pieces, slice);
    Py_DECREF(slice);
    return failed;
}

static PyObject *fold_runs(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 3 || !PyUnicode_Check(args[0]) || !PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "fold_runs() takes a str, a dict and a callable");
        return NULL;
    }
    PyObject *text = args[0], *cache = args[1], *fold = args[2];
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(text) < 0) return NULL;
#endif
    if (PyUnicode_IS_ASCII(text)) return Py_NewRef(text);
    const void *data = PyUnicode_DATA(text);
    int kind = PyUnicode_KIND(text);
    Py_ssize_t length = PyUnicode_GET_LENGTH(text), done = 0;
    PyObject *pieces = PyList_New(0);
    if (pieces == NULL) return NULL;
    while (done < length) {
        Py_ssize_t start = done, end;
        switch (kind) {
        case PyUnicode_1BYTE_KIND: NEXT_RUN(Py_UCS1); break;
        case PyUnicode_2BYTE_KIND: NEXT_RUN(Py_UCS2); break;
        default: NEXT_RUN(Py_UCS4); break;
        }
        if ((start > done && append_slice(pieces, text, done, start, NULL, NULL) < 0)
                || (end > start && append_slice(pieces, text, start, end, cache, fold) < 0)) {
            Py_DECREF(pieces);
            return NULL;
        }
        done = end;
    }
    PyObject *empty = PyUnicode_FromStringAndSize("", 0);
    PyObject *joined = empty != NULL ? PyUnicode_Join(empty, pieces) : NULL;
    Py_XDECREF(empty);
    Py_DECREF(pieces);
    return joined;
}

/* token_spans(text, words, prefixes, cache, fold, limit, first): the (start, end) of each token of text (a run of
 * \w: str.isalnum() or '_', as the pattern \w+ matches) starting before limit whose fold is one of the words (a
 * frozenset) or starts with one of the prefixes (a tuple); only the first when first is true. An ASCII token's fold
 * is its lower case, compared here without making a str; any other token is folded by fold(token), cached in the
 * dict as fold_runs() caches runs. What search/snippets.py:Marker does in Python, which took 20-40 us a text. */
typedef struct {
    const char *chars;
    Py_ssize_t length;
    int whole;
} AsciiWord;

#define TOKEN_AT(type) do { \
        const type *chars = (const type *)data; \
        while (at < limit && !is_word(chars[at])) at++; \
        end = at; \
        while (end < length && is_word(chars[end])) { ascii &= chars[end] < 128; end++; } \
    } while (0)

#define ASCII_MATCH(type) do { \
        const type *chars = (const type *)data; \
        for (Py_ssize_t w = 0; w < n_words && !found; w++) { \
            const AsciiWord *word = &ascii_words[w]; \
            if (word->whole ? size != word->length : size < word->length) continue; \
            Py_ssize_t i = 0; \
            while (i < word->length && ascii_lower[chars[start + i]] == word->chars[i]) i++; \
            found = i == word->length; \
        } \
    } while (0)

static unsigned char ascii_lower[128];

static inline int is_word(Py_UCS4 ch) {
    return ch < 128 ? ascii_alnum[ch] || ch == '_' : Py_UNICODE_ISALNUM(ch);
}

/* The fold of text[start:end], a str (cached_fold()); a new reference, NULL on error. */
static PyObject *folded_token(PyObject *text, Py_ssize_t start, Py_ssize_t end, PyObject *cache, PyObject *fold) {
    PyObject *token = PyUnicode_Substring(text, start, end);
    if (token == NULL) return NULL;
    PyObject *folded = cached_fold(token, cache, fold);
    Py_DECREF(token);
    if (folded != NULL && !PyUnicode_Check(folded)) {
        PyErr_SetString(PyExc_TypeError, "fold() must return a str");
        Py_CLEAR(folded);
    }
    return folded;
}

/* 1 when the folded token is a word or starts with a prefix, 0 when not, -1 on error. */
static int folded_match(PyObject *folded, PyObject *words, PyObject *prefixes) {
    int found = PySet_Contains(words, folded);
    for (Py_ssize_t p = 0; found == 0 && p < PyTuple_GET_SIZE(prefixes); p++) {
        Py_ssize_t tail = PyUnicode_Tailmatch(folded, PyTuple_GET_ITEM(prefixes, p), 0, PY_SSIZE_T_MAX, -1);
        found = tail < 0 ? -1 : tail > 0;
    }
    return found;
}

/* The ASCII words and prefixes, their chars borrowed from the str objects (alive for the call). */
static AsciiWord *ascii_words_of(PyObject *words, PyObject *prefixes, Py_ssize_t *n_words) {
    Py_ssize_t n = 0, capacity = PySet_GET_SIZE(words) + PyTuple_GET_SIZE(prefixes) + 1;
    AsciiWord *found = PyMem_Malloc(sizeof(AsciiWord) * (size_t)capacity);
    PyObject *iterator = found != NULL ? PyObject_GetIter(words) : NULL, *word;
    if (iterator == NULL) {
        PyMem_Free(found);
        return found == NULL ? (AsciiWord *)PyErr_NoMemory() : NULL;
    }
    while ((word = PyIter_Next(iterator)) != NULL) {
        if (PyUnicode_Check(word) && PyUnicode_IS_ASCII(word))  /* the frozenset keeps it alive */
            found[n++] = (AsciiWord){(const char *)PyUnicode_DATA(word), PyUnicode_GET_LENGTH(word), 1};
        Py_DECREF(word);
    }
    Py_DECREF(iterator);
    for (Py_ssize_t p = 0; p < PyTuple_GET_SIZE(prefixes); p++) {
        PyObject *prefix = PyTuple_GET_ITEM(prefixes, p);
        if (PyUnicode_IS_ASCII(prefix))
            found[n++] = (AsciiWord){(const char *)PyUnicode_DATA(prefix), PyUnicode_GET_LENGTH(prefix), 0};
    }
    if (PyErr_Occurred()) {
        PyMem_Free(found);
        return NULL;
    }
    *n_words = n;
    return found;
}

static PyObject *token_spans(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 7 || !PyUnicode_Check(args[0]) || !PyFrozenSet_CheckExact(args[1]) || !PyTuple_Check(args[2])
            || !PyDict_Check(args[3]) || !PyLong_Check(args[5])) {
        PyErr_SetString(PyExc_TypeError,
                        "token_spans() takes a str, a frozenset, a tuple of str, a dict, a callable, an int, a bool");
        return NULL;
    }
    PyObject *text = args[0], *words = args[1], *prefixes = args[2], *cache = args[3], *fold = args[4];
    for (Py_ssize_t p = 0; p < PyTuple_GET_SIZE(prefixes); p++) {
        if (!PyUnicode_Check(PyTuple_GET_ITEM(prefixes, p))) {
            PyErr_SetString(PyExc_TypeError, "token_spans() takes prefixes as a tuple of str");
            return NULL;
        }
    }
    Py_ssize_t limit = PyLong_AsSsize_t(args[5]);
    int first = PyObject_IsTrue(args[6]);
    if ((limit == -1 && PyErr_Occurred()) || first < 0) return NULL;
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(text) < 0) return NULL;
#endif
    const void *data = PyUnicode_DATA(text);
    int kind = PyUnicode_KIND(text);
    Py_ssize_t length = PyUnicode_GET_LENGTH(text), at = 0, n_words = 0;
    limit = limit < 0 ? 0 : limit > length ? length : limit;
    PyObject *spans = PyList_New(0);
    AsciiWord *ascii_words = spans != NULL ? ascii_words_of(words, prefixes, &n_words) : NULL;
    if (ascii_words == NULL) {
        Py_XDECREF(spans);
        return NULL;
    }
    while (at < limit) {
        Py_ssize_t end;
        int ascii = 1, found = 0;
        switch (kind) {
        case PyUnicode_1BYTE_KIND: TOKEN_AT(Py_UCS1); break;
        case PyUnicode_2BYTE_KIND: TOKEN_AT(Py_UCS2); break;
        default: TOKEN_AT(Py_UCS4); break;
        }
        if (at >= limit) break;
        Py_ssize_t start = at, size = end - start;
        at = end;
        if (ascii) {
            switch (kind) {
            case PyUnicode_1BYTE_KIND: ASCII_MATCH(Py_UCS1); break;
            case PyUnicode_2BYTE_KIND: ASCII_MATCH(Py_UCS2); break;
            default: ASCII_MATCH(Py_UCS4); break;
            }
        } else {
            PyObject *folded = folded_token(text, start, end, cache, fold);
            found = folded != NULL ? folded_match(folded, words, prefixes) : -1;
            Py_XDECREF(folded);
        }
        PyObject *span = found > 0 ? Py_BuildValue("(nn)", start, end) : NULL;
        if (found < 0 || (found > 0 && (span == NULL || PyList_Append(spans, span) < 0))) {
            Py_XDECREF(span);
            Py_CLEAR(spans);
            break;
        }
        Py_XDECREF(span);
        if (found > 0 && first) break;
    }
    PyMem_Free(ascii_words);
    return spans;
}

static PyMethodDef methods[] = {
    {"register", register_rank, METH_O, "Registers the FTS5 function rank_bm25 on a sqlite3.Connection."},
    {"token_count", token_count, METH_O, "The tokens unicode61 counts in these texts: runs of str.isalnum()."},
    {"fold_runs", (PyCFunction)(void (*)(void))fold_runs, METH_FASTCALL,
     "The text with each run of non-ASCII characters replaced by fold(run), cached in a dict."},
    {"token_spans", (PyCFunction)(void (*)(void))token_spans, METH_FASTCALL,
     "The spans of the tokens whose fold is a word or starts with a prefix."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "search._fts5_rank", NULL, -1, methods, NULL, NULL, NULL, NULL};

/* The handle must belong to the libsqlite3 this module calls. A Python whose _sqlite3 carries its own copy of
 * SQLite (statically linked) would hand over a handle of that copy: refuse to load, and bm25() is used. */
static int same_sqlite_as_python(void) {
    PyObject *module = PyImport_ImportModule("_sqlite3");
    if (module == NULL) return 0;
    PyObject *file = PyObject_GetAttrString(module, "__file__");
    Py_DECREF(module);
    if (file == NULL) return 0;
    const char *path = PyUnicode_AsUTF8(file);
    void *handle = path ? dlopen(path, RTLD_NOW | RTLD_NOLOAD) : NULL;
    Py_DECREF(file);
    if (handle == NULL) return 0;
    void *theirs = dlsym(handle, "sqlite3_libversion");
    dlclose(handle);
    return theirs == (void *)sqlite3_libversion;
}

PyMODINIT_FUNC PyInit__fts5_rank(void) {
    if (!same_sqlite_as_python()) {
        PyErr_Clear();
        PyErr_SetString(PyExc_ImportError, "Python's sqlite3 module does not use the libsqlite3 this module links");
        return NULL;
    }
    PyObject *sqlite3_module = PyImport_ImportModule("sqlite3");
    if (sqlite3_module == NULL) return NULL;
    connection_type = PyObject_GetAttrString(sqlite3_module, "Connection");
    Py_DECREF(sqlite3_module);
    if (connection_type == NULL) return NULL;
    for (int ch = 0; ch < 128; ch++) {
        ascii_alnum[ch] = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
        ascii_lower[ch] = (unsigned char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    return PyModule_Create(&module_def);
}
