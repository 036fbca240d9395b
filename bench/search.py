"""Search benchmark: synthetic order documents, index throughput and query latency, FTS5 beside tantivy-py.

    .venv/bin/python bench/search.py                          # 100k and 1M documents, fts5 + tantivy
    .venv/bin/python bench/search.py --sizes 20000 --queries 50
    .venv/bin/python bench/search.py --elastic http://localhost:9200   # + Elasticsearch, if search.elastic exists

The corpus is generated, deterministically (--seed), batch by batch and never held in memory: French, German and
English business words drawn with a Zipf law from a ranked vocabulary (real words first, then generated tokens for a
long tail), with order numbers PO-YYYY/NNNNN, invoice and delivery numbers, customers C-NNNN (Zipf over a few
thousand), document dates over 2019-2025 and amounts. Every (engine, size) builds in its own child process so that
its peak RSS (VmHWM) is its own; the corpus is written once per size to a file the children stream from. FTS5 and
Elasticsearch build as `archive search reindex` does (the index's bulk(), then optimize()); build docs/s is the
wall time of the whole build, the reading of the corpus file included.

Query mix, `--queries` queries per class, drawn from the vocabulary by document frequency (df) at that size: one
rare term (the 300 least frequent words: df ~10 at 100k, ~100 at 1M), one mid term (df 0.1-1 % of the documents),
one common term (df >= 10 %), two terms (AND: a word of df >= 1 % and a mid word), a phrase of two adjacent words
from a generated document, a prefix (5 letters) of a mid word, a term + customer + date range, and a faceted single
term (facets on; all other classes facets off). Sort is relevance, 20 hits with snippets, total counted exactly up to
10,000.

tantivy gets the same folded text (search.normalize.fold) in the same fields with the same weights (boost 5, 3, 1),
the same filters (raw terms, a fast date field for ranges), hits with stored fields and a snippet, `count=True`, and
facets through its terms aggregations (exact over the whole match set).

Queries run in `--rounds` rounds (3) after the builds, once their files are on disk. In each round, each engine in
turn opens its index in a fresh child process, makes one warm-up pass over a separate sample, then one pass over the
shuffled mix. This machine's speed drifts by 10-30 % within minutes, so engines compared round by round meet the
same load. p50 is the median of the rounds' p50, the ratio to tantivy the median of the rounds' ratios; p99 and the
classes' figures are over all the rounds' queries. This prints figures and asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from search.index import IndexRecord, Query  # noqa: E402
from search.normalize import fold, identifier_keys  # noqa: E402
from search.query import parse  # noqa: E402

BATCH = 5000
CLASSES = ("rare", "mid", "common", "and2", "phrase", "prefix", "filtered", "faceted")
TARGET_P50_MS, TARGET_P99_MS, TARGET_DOCS_S = 10.0, 100.0, 5000.0

# ---------------------------------------------------------------------------------------------------------------
# Vocabulary: real business words (FR, DE, EN), German compounds, then generated tokens for the long tail

FRENCH = """facture commande livraison client fournisseur montant total prix quantité article référence date
échéance paiement virement remise taxe tva règlement bon reçu avoir devis contrat conditions générales vente
achat adresse rue avenue boulevard ville code postal pays france société sarl sas siège social numéro téléphone
courriel désignation unité poids colis palette transport expédition réception marchandise retour partiel complet
délai garantie service après-vente assurance frais port emballage stock entrepôt magasin inventaire produit
matériel équipement pièce détachée main d'œuvre heure jour semaine mois année trimestre exercice comptable bilan
compte banque iban bic escompte pénalité retard relance rappel mise demeure litige réclamation avis crédit débit
solde acompte reliquat annulation modification confirmation accusé signature cachet tampon original copie
duplicata exemplaire page annexe objet madame monsieur cordialement salutations veuillez agréer trouverez
ci-joint votre notre pour avec sans dans sur sous entre selon suivant conformément concernant relatif livré
facturé payé dû net brut hors toutes taxes comprises unitaire remboursement fabrication usine atelier chantier
projet devise euro francs suisses responsable directeur gérant comptabilité achats ventes logistique qualité
contrôle conformité certificat origine douane déclaration importation exportation incoterm franco départ
destination transporteur camion conteneur bordereau lettre voiture récépissé quittance échantillon catalogue
tarif promotion rabais ristourne commission mandat prélèvement chèque espèces carte prochaine dernière première
nouvelle ancienne urgente prioritaire""".split()

GERMAN = """rechnung bestellung lieferung kunde lieferant betrag summe preis menge artikel referenz datum fällig
zahlung überweisung rabatt steuer mehrwertsteuer mwst skonto gutschrift angebot vertrag bedingungen allgemeine
geschäftsbedingungen verkauf einkauf adresse straße hauptstraße bahnhofstraße gasse platz stadt postleitzahl
land deutschland österreich schweiz gesellschaft gmbh ag kg sitz nummer telefon bezeichnung einheit gewicht
paket palette versand spedition empfang ware rücksendung teillieferung vollständig lieferfrist garantie
kundendienst versicherung porto verpackung lager lagerhaus bestand inventur erzeugnis material ausrüstung
ersatzteil arbeitszeit stunde tag woche monat jahr quartal geschäftsjahr bilanz konto bank mahnung
zahlungserinnerung verzug verzugszinsen reklamation beanstandung anzahlung restbetrag stornierung änderung
bestätigung auftragsbestätigung unterschrift stempel original kopie ausfertigung seite anlage betreff sehr
geehrte damen herren freundlichen grüßen beiliegend ihre unsere für mit ohne gemäß laut bezüglich geliefert
berechnet bezahlt netto brutto zuzüglich inklusive einzelpreis gesamtpreis erstattung fertigung werk werkstatt
baustelle projekt währung franken verantwortlich geschäftsführer buchhaltung vertrieb logistik qualität prüfung
konformität zertifikat ursprung zoll zollerklärung einfuhr ausfuhr frachtführer lastwagen container frachtbrief
lieferschein quittung muster katalog preisliste aktion nachlass provision vollmacht lastschrift scheck bargeld
karte nächste letzte erste neue alte dringend eilig""".split()

ENGLISH = """invoice order delivery customer supplier amount total price quantity item reference date due
payment transfer discount tax vat settlement receipt credit note quote quotation contract terms conditions sale
purchase address street road avenue city postcode country company limited ltd inc registered office number phone
email description unit weight parcel pallet shipping shipment goods return partial complete lead time warranty
service insurance freight packaging stock warehouse inventory product material equipment spare part labour hour
day week month year quarter fiscal balance account bank reminder overdue late fee dispute claim advance
remaining cancellation change confirmation acknowledgement signature stamp copy duplicate page attachment
subject dear regards sincerely please find enclosed your our with without under between according following
regarding delivered invoiced paid net gross excluding including unit refund manufacturing plant site project
currency pounds dollars manager director accounting purchasing sales logistics quality inspection compliance
certificate origin customs declaration import export carrier truck container waybill bill lading sample
catalogue list promotion rebate commission mandate direct debit cheque cash card next last first new old urgent
priority""".split()

PREFIXES = "liefer rechnungs bestell zahlungs kunden waren lager versand auftrags einkaufs verkaufs preis".split()
SUFFIXES = "schein nummer datum betrag adresse liste position frist bedingung menge konto stelle".split()
SYLLABLES = ("ka", "lo", "ver", "mi", "tan", "ro", "sel", "qua", "dor", "ne", "bri", "fu", "tex", "zan", "pel",
             "gor", "vi", "lum", "sta", "ker", "ami", "ost", "pra", "del", "wen", "xo", "ju", "rik", "san", "tho")
CUSTOMER_STEMS = ("Müller", "Dupont", "Schmidt", "Lefèvre", "Acme", "Globex", "Weber", "Moreau", "Fischer", "Martin",
                  "Becker", "Bernard", "Hoffmann", "Dubois", "Initech", "Umbrella", "Krämer", "Girard", "Wolf",
                  "Rousseau", "Northwind", "Contoso", "Schäfer", "Lambert", "Zimmermann", "Fontaine", "Straßer")
LEGAL = ("GmbH", "SARL", "SAS", "AG", "Ltd", "Inc", "KG", "SA")
DOC_TYPES = (("invoice", 40, "Facture"), ("order", 20, "Bestellung"), ("delivery_note", 20, "Lieferschein"),
             ("credit_note", 6, "Credit note"), ("quote", 8, "Devis"), ("contract", 6, "Contract"))
STATUSES = (("active", 90), ("on_hold", 5), ("disposed", 4), ("restricted", 1))
START, DAYS = date(2019, 1, 1), (date(2025, 12, 31) - date(2019, 1, 1)).days + 1
TAIL_TOKENS = 60_000
CUSTOMERS = 3000


def vocabulary(rng: random.Random) -> list[str]:
    """Ranked: real words (shuffled across languages) first, compounds next, generated tokens for the tail."""
    real = list(dict.fromkeys(FRENCH + GERMAN + ENGLISH))
    rng.shuffle(real)
    compounds = [p + s for p in PREFIXES for s in SUFFIXES]
    rng.shuffle(compounds)
    seen, tail = set(real) | set(compounds), []
    while len(tail) < TAIL_TOKENS:
        token = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if token not in seen:
            seen.add(token)
            tail.append(token)
    return real + compounds + tail


def zipf_weights(n: int, s: float) -> list[float]:
    cumulative, acc = [], 0.0
    for rank in range(1, n + 1):
        acc += 1.0 / rank ** s
        cumulative.append(acc)
    return cumulative


@dataclass
class Corpus:
    vocab: list[str]
    cum_words: list[float]
    cum_customers: list[float]
    customer_names: list[str]

    @classmethod
    def make(cls, seed: int) -> Corpus:
        rng = random.Random(seed)
        names = [f"{rng.choice(CUSTOMER_STEMS)} {rng.choice(CUSTOMER_STEMS)} {rng.choice(LEGAL)}"
                 for _ in range(CUSTOMERS)]
        vocab = vocabulary(rng)
        return cls(vocab, zipf_weights(len(vocab), 1.05), zipf_weights(CUSTOMERS, 0.9), names)

    def records(self, seed: int, start: int, count: int) -> list[IndexRecord]:
        rng = random.Random(seed * 1_000_003 + start)
        return [self.record(rng, start + k) for k in range(count)]

    def record(self, rng: random.Random, k: int) -> IndexRecord:
        customer = rng.choices(range(CUSTOMERS), cum_weights=self.cum_customers)[0]
        day = START + timedelta(days=rng.randrange(DAYS))
        doc_type, _, label = rng.choices(DOC_TYPES, weights=[t[1] for t in DOC_TYPES])[0]
        status = rng.choices([s for s, _ in STATUSES], weights=[w for _, w in STATUSES])[0]
        order = f"PO-{day.year}/{k % 100_000:05d}"
        number = f"{'INV' if doc_type == 'invoice' else 'LS' if doc_type == 'delivery_note' else 'DOC'}-" \
                 f"{day.year}/{k:07d}"
        amount = Decimal(int(math.exp(rng.gauss(7, 1.5)) * 100)) / 100
        currency = rng.choices(("EUR", "CHF", "GBP", "USD"), weights=(70, 12, 10, 8))[0]
        body = rng.choices(self.vocab, cum_weights=self.cum_words, k=int(rng.lognormvariate(4.6, 0.5)))
        street = rng.choice(("Hauptstraße", "rue de la Paix", "Bahnhofstraße", "High Street", "avenue Foch"))
        text = (f"{self.customer_names[customer]}\n{rng.randint(1, 200)} {street}\n{label} {number}\n"
                f"Order {order} du {day.isoformat()}\n" + " ".join(body) +
                f"\nTotal {amount} {currency}\n")
        return IndexRecord(
            id=f"{k:012d}", doc_type=doc_type, customer_number=f"C-{customer:04d}",
            customer_name=self.customer_names[customer], order_number=order, title=f"{label} {number}",
            filename=f"{doc_type}-{k}.pdf", text=text, references=(number,), document_date=day,
            filed_at=datetime(day.year, day.month, day.day, 12, tzinfo=timezone.utc)
            + timedelta(days=rng.randint(0, 9)),
            amount=amount, currency=currency, mime_type="application/pdf", status=status,
            restricted=rng.random() < 0.02, stamp=str(k))


# ---------------------------------------------------------------------------------------------------------------
# The corpus file: generated once for the largest size (two processes), read in batches by every child


def _generate_batch(args: tuple[int, int, int]) -> tuple[bytes, dict[str, int], list[str]]:
    seed, start, count = args
    corpus = _CORPUS_CACHE.setdefault(seed, Corpus.make(seed))
    records = corpus.records(seed, start, count)
    df: dict[str, int] = {}
    for r in records:
        for w in set(r.text.split()):
            df[w] = df.get(w, 0) + 1
    rng = random.Random(start)
    phrases = []
    for r in rng.sample(records, min(20, len(records))):
        body = r.text.split("\n")[4].split()
        at = rng.randrange(len(body) - 1) if len(body) > 1 else 0
        phrases.append(" ".join(body[at:at + 2]))
    return pickle.dumps(records, protocol=5), df, phrases


_CORPUS_CACHE: dict[int, Corpus] = {}


def write_corpus(path: Path, seed: int, sizes: list[int]) -> dict[str, Any]:
    """Writes the records of max(sizes) documents; returns df per word at each size and phrase samples."""
    import multiprocessing
    total, stats = max(sizes), {"df": {}, "phrases": []}
    bounds = sorted({*range(0, total, BATCH), *sizes})  # every size ends a batch, however small
    jobs = [(seed, start, end - start) for start, end in zip(bounds, bounds[1:])]
    df: dict[str, int] = {}
    t0 = time.perf_counter()
    with open(path, "wb") as out, multiprocessing.get_context("fork").Pool(2) as pool:
        for (_, start, count), (blob, batch_df, phrases) in zip(jobs, pool.imap(_generate_batch, jobs)):
            out.write(len(blob).to_bytes(8, "little") + blob)
            for w, c in batch_df.items():
                df[w] = df.get(w, 0) + c
            if start + count <= min(sizes):
                stats["phrases"] += phrases
            if start + count in sizes:
                stats["df"][start + count] = dict(df)
    print(f"corpus: {total:,} documents generated in {time.perf_counter() - t0:.0f} s", flush=True)
    return stats


def read_corpus(path: Path, limit: int) -> Iterator[list[IndexRecord]]:
    done = 0
    with open(path, "rb") as source:
        while done < limit and (head := source.read(8)):
            batch = pickle.loads(source.read(int.from_bytes(head, "little")))[:limit - done]
            done += len(batch)
            yield batch


# ---------------------------------------------------------------------------------------------------------------
# The query mix


def query_mix(stats: dict[str, Any], size: int, per_class: int, seed: int) -> list[tuple[str, str, bool]]:
    """[(class, query text, facets)], shuffled; words picked by document frequency at this size."""
    rng = random.Random(seed + size)
    df = stats["df"][size]
    by_df = sorted((c, w) for w, c in df.items() if w.isalpha() and len(w) > 3)
    rare = [w for c, w in by_df if c >= 3][:300]
    mid = [w for c, w in by_df if size // 1000 <= c <= size // 100]
    common = [w for c, w in by_df if c >= size // 10]
    frequent = [w for c, w in by_df if c >= size // 100]
    customers = [f"C-{k:04d}" for k in range(200)]

    def pick(pool: list[str]) -> str:
        return rng.choice(pool)

    def filtered() -> str:
        start = date(2019, 1, 1) + timedelta(days=30 * rng.randrange(72))
        end = start + timedelta(days=30 * rng.randint(3, 24))
        return f"{pick(frequent)} customer:{pick(customers)} date:{start:%Y-%m}..{min(end, date(2025, 12, 31)):%Y-%m}"

    makers = {
        "rare": lambda: pick(rare), "mid": lambda: pick(mid), "common": lambda: pick(common),
        "and2": lambda: f"{pick(frequent)} {pick(mid)}", "phrase": lambda: f'"{rng.choice(stats["phrases"])}"',
        "prefix": lambda: pick([w for w in mid if len(w) > 6])[:5] + "*", "filtered": filtered,
        "faceted": lambda: pick(rng.choice((rare, mid, common))),
    }
    mix = [(name, makers[name](), name == "faceted") for name in CLASSES for _ in range(per_class)]
    rng.shuffle(mix)
    return mix


# ---------------------------------------------------------------------------------------------------------------
# Engines: each builds from the corpus stream and answers (query text, facets) with 20 hits, snippets and a total


class Fts5Engine:
    name = "fts5"

    def __init__(self, work: Path) -> None:
        from search.fts5 import Fts5Index
        self.index = Fts5Index(work / "search.db")

    def build(self, batches: Iterator[list[IndexRecord]]) -> int:
        """As `archive search reindex` builds: bulk(), then optimize()."""
        done = 0
        with self.index.bulk():
            for batch in batches:
                self.index.upsert(batch)
                done += len(batch)
        self.index.optimize()
        return done

    def search(self, text: str, facets: bool) -> tuple[int, int]:
        page = self.index.search(Query(parse(text), facets=facets))
        return page.total, len(page.hits)

    def close(self) -> None:
        self.index.close()


class ElasticEngine(Fts5Engine):
    name = "elastic"

    def __init__(self, work: Path, url: str) -> None:
        from search.elastic import ElasticIndex
        self.index = ElasticIndex(url, index_name=f"bench-search-{work.name}")

    def drop(self) -> None:
        self.index.drop()


class TantivyEngine:
    """The same folded fields and weights; AST translated to tantivy queries (see the module docstring)."""

    name = "tantivy"

    def __init__(self, work: Path) -> None:
        import tantivy
        self.t = tantivy
        builder = tantivy.SchemaBuilder()
        for field in ("title", "refs"):
            builder.add_text_field(field, stored=True)
        builder.add_text_field("body", stored=True)
        builder.add_text_field("ids", tokenizer_name="raw")
        for field in ("id", "doc_type", "customer", "status", "customer_number"):
            builder.add_text_field(field, stored=True, tokenizer_name="raw", fast=field != "id")
        builder.add_integer_field("day", stored=True, indexed=True, fast=True)
        builder.add_integer_field("year", indexed=True, fast=True)
        builder.add_integer_field("restricted", indexed=True)
        self.schema = builder.build()
        (work / "tantivy").mkdir(exist_ok=True)
        self.index = tantivy.Index(self.schema, path=str(work / "tantivy"))  # opens the one built, if any

    def build(self, batches: Iterator[list[IndexRecord]]) -> int:
        from search.normalize import identifier_key
        writer, done = self.index.writer(heap_size=1_000_000_000, num_threads=2), 0
        for batch in batches:
            for r in batch:
                doc = self.t.Document()
                doc.add_text("id", r.id)
                doc.add_text("title", fold(r.title or ""))
                doc.add_text("refs", fold("\n".join([*r.references, r.order_number or "", r.customer_number])))
                doc.add_text("body", fold("\n".join(v for v in (r.text, r.filename, r.customer_name) if v)))
                for value in (*r.references, r.order_number, r.customer_number):
                    for key in identifier_keys(value or ""):
                        doc.add_text("ids", key)
                doc.add_text("doc_type", r.doc_type)
                doc.add_text("status", r.status)
                doc.add_text("customer", identifier_key(r.customer_number))
                doc.add_text("customer_number", r.customer_number)
                doc.add_integer("day", r.document_date.toordinal() if r.document_date else 0)
                doc.add_integer("year", r.document_date.year if r.document_date else 0)
                doc.add_integer("restricted", int(r.restricted))
                writer.add_document(doc)
            done += len(batch)
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()
        return done

    def _text(self, field_words: list[str], prefix: bool = False) -> Any:
        q, t = self.t.Query, self.schema
        parts = []
        for field, boost in (("title", 5.0), ("refs", 3.0), ("body", 1.0)):
            if prefix:
                inner = q.regex_query(t, field, "".join(f"\\{c}" if not c.isalnum() else c for c in field_words[0])
                                      + ".*")
            elif len(field_words) == 1:
                inner = q.term_query(t, field, field_words[0])
            else:
                inner = q.phrase_query(t, field, field_words)
            parts.append((self.t.Occur.Should, q.boost_query(inner, boost)))
        return q.boolean_query(parts)

    def translate(self, node: Any) -> Any:
        from search.query import Filter, Identifier, Not, Or, Phrase, Term
        q, t, occur = self.t.Query, self.schema, self.t.Occur
        if isinstance(node, Term):
            return self._text([node.word], node.prefix)
        if isinstance(node, Phrase):
            return self._text(list(node.words))
        if isinstance(node, Identifier):
            return q.boolean_query([(occur.Should, q.boost_query(q.term_query(t, "ids", node.key), 3.0)),
                                    (occur.Should, self._text(list(node.words)))])
        if isinstance(node, Filter) and node.field == "date":
            return q.range_query(t, "day", self.t.FieldType.Integer, node.lo.toordinal() if node.lo else None,
                                 node.hi.toordinal() if node.hi else None)
        if isinstance(node, Filter):
            return q.term_query(t, {"customer": "customer", "type": "doc_type", "status": "status"}[node.field],
                                node.value)
        if isinstance(node, Not):
            return q.boolean_query([(occur.Must, q.all_query()), (occur.MustNot, self.translate(node.item))])
        if isinstance(node, Or):
            return q.boolean_query([(occur.Should, self.translate(item)) for item in node.items])
        parts = [(occur.MustNot, self.translate(i.item)) if isinstance(i, Not) else (occur.Must, self.translate(i))
                 for i in node.items]
        if all(kind == occur.MustNot for kind, _ in parts):
            parts.append((occur.Must, q.all_query()))
        return q.boolean_query(parts)

    def search(self, text: str, facets: bool) -> tuple[int, int]:
        q, occur = self.t.Query, self.t.Occur
        query = q.boolean_query([(occur.Must, self.translate(parse(text))),
                                 (occur.MustNot, q.term_query(self.schema, "restricted", 1))])
        searcher = self.index.searcher()
        result = searcher.search(query, 20, count=True)
        snippets = self.t.SnippetGenerator.create(searcher, query, self.schema, "body")
        snippets.set_max_num_chars(200)
        for _, address in result.hits:
            doc = searcher.doc(address)
            snippets.snippet_from_doc(doc).to_html()
        if facets:
            searcher.aggregate(query, {name: {"terms": {"field": field, "size": 25}} for name, field in
                                       (("type", "doc_type"), ("customer", "customer_number"), ("year", "year"),
                                        ("status", "status"))})
        return result.count, len(result.hits)

    def close(self) -> None:
        pass


# ---------------------------------------------------------------------------------------------------------------
# One (engine, size) in child processes: one builds the index, then each round a fresh one opens it and runs the
# query mix; each prints one JSON line


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(args: argparse.Namespace) -> None:
    work = Path(args.index)
    engine = {"fts5": Fts5Engine, "tantivy": TantivyEngine}[args.child](work) if args.child != "elastic" \
        else ElasticEngine(work, args.elastic)
    try:
        if args.phase == "build":
            print(json.dumps(build_once(engine, args, work)))
        elif args.phase == "query":
            print(json.dumps({"latencies": query_pass(engine, json.loads(Path(args.mix).read_text()))}))
        else:
            engine.drop()
            print(json.dumps({}))
    finally:
        engine.close()


def build_once(engine: Any, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    # Wall time of the whole build, the corpus reading included (about 10 us a document): tantivy writes in
    # threads of its own, which would go on working, unseen, during untimed reading.
    t0 = time.perf_counter()
    done = engine.build(read_corpus(Path(args.corpus), args.size))
    build_s = time.perf_counter() - t0
    return {"engine": args.child, "size": args.size, "docs": done, "build_s": build_s, "rss_mb": peak_rss_mb(),
            "disk_mb": sum(f.stat().st_size for f in work.rglob("*") if f.is_file()) / 1e6,
            "ranking": getattr(getattr(engine, "index", None), "ranking", None)}


def query_pass(engine: Any, mix: dict[str, Any]) -> dict[str, list[float]]:
    for _, text, facets in mix["warmup"]:
        engine.search(text, facets)
    latencies: dict[str, list[float]] = {name: [] for name in CLASSES}
    for name, text, facets in mix["queries"]:
        t = time.perf_counter()
        engine.search(text, facets)
        latencies[name].append((time.perf_counter() - t) * 1000)
    return latencies


# ---------------------------------------------------------------------------------------------------------------
# The parent: corpus, mixes, children, table


def corpus_files(args: argparse.Namespace, work: Path, sizes: list[int]) -> tuple[Path, dict[str, Any]]:
    """The corpus file and its statistics; with --cache DIR, kept there and reused for the same seed and sizes."""
    folder = Path(args.cache) if args.cache else work
    folder.mkdir(parents=True, exist_ok=True)
    corpus, stats_file = folder / "corpus.bin", folder / "stats.pkl"
    if args.cache and corpus.exists() and stats_file.exists():
        stats = pickle.loads(stats_file.read_bytes())
        if stats.get("seed") == args.seed and all(size in stats["df"] for size in sizes) \
                and max(stats["df"]) == max(sizes):
            print(f"corpus: reused {corpus}", flush=True)
            return corpus, stats
    stats = write_corpus(corpus, args.seed, sizes)
    stats["seed"] = args.seed
    stats_file.write_bytes(pickle.dumps(stats))
    return corpus, stats


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))] if ordered else float("nan")


def engines(args: argparse.Namespace) -> list[str]:
    names = [e for e in args.engines.split(",") if e]
    if args.elastic:
        try:
            import search.elastic  # noqa: F401
            names.append("elastic")
        except ImportError:
            print("elastic: search.elastic.ElasticIndex does not exist yet: skipped", flush=True)
    return names


def round_p50(latencies: dict[str, list[float]]) -> float:
    return percentile([v for vs in latencies.values() for v in vs], 0.5)


def pooled(r: dict[str, Any], name: str | None = None) -> list[float]:
    return [v for rnd in r["rounds"] if rnd for c, vs in rnd.items() if name in (None, c) for v in vs]


def median_p50(r: dict[str, Any]) -> float:
    return statistics.median(round_p50(rnd) for rnd in r["rounds"] if rnd)


def table(results: list[dict[str, Any]]) -> str:
    """p50: the median of the rounds' p50; p99 and the classes' figures over the queries of all rounds."""
    head = ["engine", "docs", "build docs/s", "peak RSS MB", "disk MB", "p50 ms", "p99 ms"] + \
           [f"{c} p50/p99" for c in CLASSES]
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for r in results:
        cells = [r["engine"], f"{r['docs']:,}", f"{r['docs'] / r['build_s']:,.0f}", f"{r['rss_mb']:,.0f}",
                 f"{r['disk_mb']:,.0f}", f"{median_p50(r):.2f}",
                 f"{percentile(pooled(r), 0.99):.1f}"]
        cells += [f"{percentile(pooled(r, c), 0.5):.2f}/{percentile(pooled(r, c), 0.99):.1f}" for c in CLASSES]
        lines.append(" | ".join(cells))
    return "\n".join(lines)


def verdict(results: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in results:
        p50, p99 = median_p50(r), percentile(pooled(r), 0.99)
        rate = r["docs"] / r["build_s"]
        line = (f"{r['engine']} {r['docs']:,}: p50 {p50:.2f} ms ({'met' if p50 <= TARGET_P50_MS else 'MISSED'}), "
                f"p99 {p99:.1f} ms ({'met' if p99 <= TARGET_P99_MS else 'MISSED'})")
        if r["engine"] == "fts5":
            line += f", build {rate:,.0f} docs/s ({'met' if rate >= TARGET_DOCS_S else 'MISSED'})"
            tantivy = [t for t in results if t["engine"] == "tantivy" and t["docs"] == r["docs"]]
            if tantivy:
                ratios = [round_p50(a) / round_p50(b) for a, b in zip(r["rounds"], tantivy[0]["rounds"]) if a and b]
                ratio = statistics.median(ratios)
                line += (f", p50 = {ratio:.2f} x tantivy ({'met' if ratio <= 2 else 'MISSED'}: <= 2 x; rounds "
                         f"{', '.join(f'{x:.2f}' for x in ratios)})")
        out.append(line)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        run_child(args)
        return 0
    sizes = sorted(int(s) for s in args.sizes.split(","))
    work = Path(tempfile.mkdtemp(prefix="bench-search-", dir=args.work))
    results = []
    try:
        corpus, stats = corpus_files(args, work, sizes)
        for size in sizes:
            queries = query_mix(stats, size, args.queries, args.seed)
            warmup = random.Random(size).sample(query_mix(stats, size, args.queries, args.seed + 1),
                                                min(len(queries), 8 * 25))
            mix_file = work / f"mix-{size}.json"
            mix_file.write_text(json.dumps({"queries": queries, "warmup": warmup}))
            results += run_size(args, work, corpus, mix_file, size)
        print()
        print(table(results))
        print()
        print("\n".join(verdict(results)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def run_size(args: argparse.Namespace, work: Path, corpus: Path, mix_file: Path, size: int) -> list[dict[str, Any]]:
    """Each engine builds in a child of its own; then the rounds of queries alternate between the engines, so that
    each comparison is made under the same load of this machine (its speed drifts by 10-30 % within minutes)."""
    built: dict[str, dict[str, Any]] = {}
    for engine in engines(args):
        (work / f"{engine}-{size}").mkdir()
        t = time.perf_counter()
        r = child(args, engine, "build", work, corpus, mix_file, size)
        if r is not None:
            built[engine] = {**r, "rounds": []}
            print(f"{engine} {size:,}: built at {r['docs'] / r['build_s']:,.0f} docs/s, "
                  f"{time.perf_counter() - t:.0f} s" + (f", ranked by {r['ranking']}()" if r.get("ranking") else ""),
                  flush=True)
    os.sync()  # the kernel writes the indexes just built back to disk: not during the first round's queries
    for round_ in range(args.rounds):
        for engine, r in built.items():
            found = child(args, engine, "query", work, corpus, mix_file, size)
            r["rounds"].append(found["latencies"] if found is not None else None)  # a failed round pairs with none
            if found is not None:
                print(f"{engine} {size:,}, round {round_ + 1}: p50 {round_p50(found['latencies']):.2f} ms",
                      flush=True)
    for engine in built:
        if engine == "elastic":  # the other engines' files go with the work directory
            child(args, engine, "drop", work, corpus, mix_file, size)
        shutil.rmtree(work / f"{engine}-{size}", ignore_errors=True)
    return [r for r in built.values() if any(r["rounds"])]


def child(args: argparse.Namespace, engine: str, phase: str, work: Path, corpus: Path, mix_file: Path,
          size: int) -> dict[str, Any] | None:
    command = [sys.executable, __file__, "--child", engine, "--phase", phase, "--size", str(size),
               "--corpus", str(corpus), "--mix", str(mix_file), "--index", str(work / f"{engine}-{size}")] + \
              (["--elastic", args.elastic] if args.elastic else [])
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"{engine} {size:,} {phase}: failed\n{done.stderr[-3000:]}", flush=True)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000", help="corpus sizes, comma-separated")
    parser.add_argument("--queries", type=int, default=200, help="queries per class")
    parser.add_argument("--engines", default="fts5,tantivy", help="fts5,tantivy (elastic comes with --elastic)")
    parser.add_argument("--elastic", help="Elasticsearch URL; used when search.elastic.ElasticIndex exists")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--work", default=None, help="scratch directory (default: the system's temporary one)")
    parser.add_argument("--cache", help="keep the generated corpus in this directory and reuse it on the next run")
    parser.add_argument("--rounds", type=int, default=3, help="query passes per engine, alternating between them")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--index", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    parser.add_argument("--mix", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
