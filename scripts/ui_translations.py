"""Keeps the UI's French catalogue in step with the templates: extract, merge, compile.

    .venv/bin/python scripts/ui_translations.py          # re-extract, keep existing French, compile .mo
    .venv/bin/python scripts/ui_translations.py --check  # fail if a message has no French translation

The compiled .mo is committed beside the .po, so a fresh clone runs without a build step.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "web" / "ui" / "translations"
POT = TRANSLATIONS / "messages.pot"
PO = TRANSLATIONS / "fr" / "LC_MESSAGES" / "messages.po"


def extract() -> None:
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F",
                    str(ROOT / "web" / "ui" / "babel.cfg"), "-k", "lazy_gettext", "-k", "_l", "--no-location",
                    "--omit-header", "-o", str(POT), "."], cwd=ROOT, check=True)


def merge_and_compile(check: bool) -> int:
    with POT.open("rb") as handle:
        template = read_po(handle)
    with PO.open("rb") as handle:
        catalog = read_po(handle, locale="fr")
    catalog.update(template, no_fuzzy_matching=True)
    catalog.fuzzy = False  # a fuzzy header would be left out of the .mo, and its plural rule with it
    missing = [m.id for m in catalog if m.id and (not m.string or (isinstance(m.string, tuple) and
                                                                    not all(m.string)))]
    with PO.open("wb") as handle:
        write_po(handle, catalog, omit_header=False, no_location=True, ignore_obsolete=True, width=120)
    with PO.with_suffix(".mo").open("wb") as handle:
        write_mo(handle, catalog)
    for message in missing:
        print(f"untranslated: {message!r}", file=sys.stderr)
    return 1 if check and missing else 0


if __name__ == "__main__":
    if "--check" not in sys.argv:
        extract()
    sys.exit(merge_and_compile("--check" in sys.argv))
