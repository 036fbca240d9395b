"""Snippets: the query's folded words are marked in original text, whatever its case, accents and ligatures.
Every test runs on both ways of finding the words: search._fts5_rank.token_spans() in C, and the Python."""
import random
import re

import pytest

from search import snippets
from search.normalize import fold
from search.snippets import Marker, snippet
from tests.conftest import missing_service


@pytest.fixture(autouse=True, params=["c", "python"])
def implementation(request, monkeypatch):
    if request.param == "python":
        monkeypatch.setattr(snippets, "_token_spans", None)
    elif snippets._token_spans is None:
        missing_service("search._fts5_rank is not built (make install compiles it)")
    return request.param


def marked(text: str, words=(), prefixes=()) -> list[str]:
    out = snippet(text, Marker(words, prefixes))
    return [part.split("</mark>")[0] for part in out.split("<mark>")[1:]]


@pytest.mark.parametrize("text, word, expected", [
    ("Die Straße, die STRASSE und die Strassen", "strasse", ["Straße", "STRASSE"]),
    ("ẞTRASSE", "sstrasse", ["ẞTRASSE"]),
    ("Réception RECEPTION réçeption", "reception", ["Réception", "RECEPTION", "réçeption"]),
    ("L'Œuvre, l'oeuvre, les œuvres", "oeuvre", ["Œuvre", "oeuvre"]),
    ("ﬆrasse and strasse", "strasse", ["ﬆrasse", "strasse"]),
    ("ﬁche FICHE", "fiche", ["ﬁche", "FICHE"]),
    ("Ærø ærø", "aerø", ["Ærø", "ærø"]),
])
def test_every_spelling_that_folds_to_the_word_is_marked(text, word, expected):
    assert marked(text, [word]) == expected


def test_only_whole_tokens_and_token_starts():
    assert marked("xdorsan dorsanx dorsan_ dorsan-1 dorsan", ["dorsan"]) == ["dorsan", "dorsan"]
    assert marked("Facture FACT préfacture factures", prefixes=["fact"]) == ["Facture", "FACT", "factures"]


def test_other_scripts_and_compatibility_forms_are_folded_too():
    assert marked("Η Αθήνα και η ΑΘΗΝΑ", ["αθηνα"]) == ["Αθήνα", "ΑΘΗΝΑ"]
    assert marked("Ｆａｃｔｕｒｅ ｎｏ", ["facture"]) == ["Ｆａｃｔｕｒｅ"]


def test_everything_but_the_marks_is_escaped():
    out = snippet('<script>alert("retour")</script> retour & <b>', Marker(["retour"], []))
    assert "<script>" not in out and "&lt;script&gt;" in out and "&amp; &lt;b&gt;" in out
    assert out.count("<mark>retour</mark>") == 2


def test_passage_starts_near_the_first_match():
    text = "filler " * 100 + "Rechnung " + "tail " * 100
    out = snippet(text, Marker(["rechnung"], []))
    assert out.startswith("…") and out.endswith("…") and "<mark>Rechnung</mark>" in out and len(out) < 300


def test_the_fast_paths_find_what_folding_each_token_finds():
    """ASCII tokens are found in the lowercased text and only the others folded: the same spans as folding all."""
    rng = random.Random(7)
    letters = "aeiousntrlcdßœæﬁéèêëàâäôöüûçñÉÈÀÖÜŒÆÇAESTİ\u212akſ"  # İ lengthens under lower(); \u212a: Kelvin
    for _ in range(300):
        tokens = ["".join(rng.choice(letters) for _ in range(rng.randint(1, 6))) for _ in range(30)]
        text = " ".join(tokens) + rng.choice(["", ".", " -x"])
        words = {fold(rng.choice(tokens)) for _ in range(2)}
        prefix = fold(rng.choice(tokens))[:2]
        expected = [m.span() for m in re.finditer(r"\w+", text)
                    if fold(m.group()) in words or fold(m.group()).startswith(prefix)]
        assert Marker(words, [prefix]).spans(text) == expected, (text, words, prefix)


def test_a_long_word_of_ligatures_is_marked():
    word = "s" * 40
    assert marked(f"x {'ß' * 20} {'S' * 40}", [word]) == ["ß" * 20, "S" * 40]


@pytest.mark.parametrize("with_prefix", [False, True])
def test_the_first_match_is_the_first_token_that_folds_to_a_query_word(with_prefix):
    """first() searches lowercased chunks for ASCII words and folds only tokens whose non-ASCII tail could end one."""
    rng = random.Random(11)
    letters = "aeiousntrlcdßœæﬁéèêëàâäôöüûçñÉÈÀÖÜŒÆÇAESTİ\u212ak"  # İ lengthens under lower(); \u212a: Kelvin
    for _ in range(400):
        tokens = ["".join(rng.choice(letters) for _ in range(rng.randint(1, 6))) for _ in range(30)]
        text = rng.choice([" ", "-", "_ ", "’"]).join(tokens)
        words = {fold(rng.choice(tokens)) for _ in range(2)}
        prefixes = [fold(rng.choice(tokens))[:2]] if with_prefix else []
        expected = next((m.start() for m in re.finditer(r"\w+", text)
                         if fold(m.group()) in words or any(fold(m.group()).startswith(p) for p in prefixes)), None)
        assert Marker(words, prefixes).first(text) == expected, (text, words, prefixes)


@pytest.mark.parametrize("at", [509, 512, 1530, 1536, 3580, 9000, 40000])
def test_words_are_found_across_the_chunks_of_a_long_text(at):
    filler = ("lorem ipsum " * 4000)[:at - 2] + "x "
    assert Marker(["rechnung"], []).first(filler + "xRechnung Rechnung") == at + len("xRechnung ")
    assert Marker(["rechnung"], []).first(filler + "Rechnungx RECHNUNG") == at + len("Rechnungx ")
    assert Marker([], ["rech"]).first(filler + "Rechnungen") == at


def test_text_in_any_string_width_is_scanned(implementation):
    """One-, two- and four-byte strings, non-ASCII words and prefixes, '_' inside tokens, a limit on first()."""
    text = "Ærø_x ærø Faктура facture ﬁche Fiche €uro 😀fact"
    assert Marker(["aerø"], []).spans(text) == [(6, 9)]
    assert Marker(["facture"], ["fi"]).spans(text) == [(18, 25), (26, 30), (31, 36)]
    assert Marker([], ["fact", "faк"]).spans(text) == [(10, 17), (18, 25), (43, 47)]
    assert Marker(["facture"], []).first(text) == 18
    assert Marker(["facture"], []).first("a" * (snippets.SNIPPET_SCAN_CHARS + 5) + " facture") is None
    assert Marker(["x"], []).spans("Ærø_x") == [] and Marker(["aerø_x"], []).spans("Ærø_X") == [(0, 5)]

