"""EML messages: the body text (plain preferred, HTML reduced to text) and the attachments, written out as files so
the pipeline can file each one as its own document."""
from __future__ import annotations

import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser
from pathlib import Path

from archive.extraction.result import ExtractionError

MAX_ATTACHMENTS = 100
HEADERS = ("From", "To", "Cc", "Date", "Subject")


def read_message(path: str, workdir: Path) -> tuple[str, list[dict]]:
    """Returns the message text and [{filename, path}] of its attachments (written under workdir)."""
    with open(path, "rb") as source:
        message = BytesParser(policy=policy.default).parse(source)
    if not isinstance(message, EmailMessage):
        raise ExtractionError("unreadable message")
    head = "\n".join(f"{name}: {message[name]}" for name in HEADERS if message[name])
    return f"{head}\n\n{_body(message)}".strip(), _attachments(message, workdir)


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # unknown charset, broken transfer encoding
        content = (part.get_payload(decode=True) or b"").decode("utf-8", errors="replace")
    return html_to_text(content) if part.get_content_subtype() == "html" else content


def _attachments(message: EmailMessage, workdir: Path) -> list[dict]:
    folder = workdir / "attachments"
    found = []
    for number, part in enumerate(message.iter_attachments()):
        if number >= MAX_ATTACHMENTS:
            raise ExtractionError(f"the message has more than {MAX_ATTACHMENTS} attachments")
        data = _part_bytes(part)
        if not data:
            continue
        folder.mkdir(exist_ok=True)
        target = folder / f"{number:03d}"
        target.write_bytes(data)
        found.append({"filename": _filename(part, number), "path": str(target)})
    return found


def _part_bytes(part: EmailMessage) -> bytes:
    if part.get_content_maintype() == "message":  # an attached message: keep it as an EML of its own
        inner = part.get_payload()
        inner = inner[0] if isinstance(inner, list) and inner else inner
        return inner.as_bytes(policy=policy.default) if hasattr(inner, "as_bytes") else b""
    return part.get_payload(decode=True) or b""


def _filename(part: EmailMessage, number: int) -> str:
    name = part.get_filename() or f"attachment-{number + 1}"
    return re.sub(r"[\x00-\x1f/\\]", "_", name)[:200]


class _TextOnly(HTMLParser):
    SKIP = {"script", "style", "head"}
    BREAKS = {"p", "br", "div", "tr", "li", "h1", "h2", "h3", "h4", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextOnly()
    parser.feed(html)
    parser.close()
    return re.sub(r"\n\s*\n+", "\n\n", "".join(parser.parts)).strip()
