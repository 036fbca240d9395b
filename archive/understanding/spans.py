"""A value found in a document, with where it was found and how sure we are."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator


@dataclass(frozen=True)
class Found:
    value: Any
    page: int
    start: int
    end: int
    confidence: float

    def provenance(self) -> dict[str, Any]:
        return {"page": self.page + 1, "start": self.start, "end": self.end, "confidence": self.confidence}


@dataclass(frozen=True)
class Line:
    page: int
    number: int      # index among the page's lines, blank ones included
    start: int       # offset of the line in its page's text
    text: str        # the original text
    folded: str      # lower case, no accents, same length


def lines_of(pages: list[str], folded_pages: list[str]) -> list[Line]:
    out = []
    for page_number, (page, folded) in enumerate(zip(pages, folded_pages)):
        for number, match in enumerate(re.finditer(r"[^\n]*", page)):
            if match.start() > 0 and page[match.start() - 1] != "\n":
                continue  # finditer also yields the empty match after each line
            out.append(Line(page_number, number, match.start(), match.group(), folded[match.start():match.end()]))
    return out


def after_label(lines: list[Line], index: int, label_end: int,
                label_start: int | None = None) -> Iterator[tuple[Line, int]]:
    """Where a label's value may stand: the rest of its line, then the next non-blank line of the same page.

    When the label is one column header among others ("Rechnungsnummer   Datum   Kundennummer"), its value stands
    in the next line under it: the word there that starts nearest to the label's column."""
    yield lines[index], label_end
    text = lines[index].text
    header = label_start is not None and (text[label_end:].strip() != "" or text[:label_start].strip() != "")
    for following in lines[index + 1:index + 3]:
        if following.page != lines[index].page:
            return
        if following.text.strip():
            yield following, column_under(following.text, label_start) if header else 0
            return


def column_under(text: str, column: int) -> int:
    words = [m.start() for m in re.finditer(r"\S+", text)]
    return min(words, key=lambda start: abs(start - column))
