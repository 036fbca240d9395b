"""multipart/form-data for uploads: bodies with CRLF line breaks are split here, anything else by werkzeug.

Werkzeug's parser compiles two regular expressions for each request's boundary and scans the body with them, which
is most of the cost of parsing a 100 KB upload. Mainstream clients follow RFC 7578: the body opens with the first
boundary and every line break is CRLF. Such bodies are split here with `bytes.find`, into the same fields and files
werkzeug would make. Any other body (bare CR or LF line breaks, a preamble) goes to werkzeug's parser unchanged,
with the bytes read so far put back in front of the stream.
"""
from __future__ import annotations

import itertools
import re
from typing import IO, Any, Callable

from werkzeug.datastructures import FileStorage, Headers
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser, MultiPartParser
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import File

CHUNK = 64 * 1024
MAX_HEADER_BLOCK = 16 * 1024
HEADER_CONTINUATION = re.compile(rb"\r\n[ \t]")


class UploadFormParser(FormDataParser):
    def _parse_multipart(self, stream: IO[bytes], mimetype: str, content_length: int | None,
                         options: dict[str, str]) -> tuple[IO[bytes], Any, Any]:
        boundary = options.get("boundary", "").encode("ascii")
        if not boundary:
            raise ValueError("Missing boundary")
        parser = CrlfMultiPartParser(stream_factory=self.stream_factory, max_form_memory_size=self.max_form_memory_size,
                                     max_form_parts=self.max_form_parts, cls=self.cls)
        form, files = parser.parse(stream, boundary, content_length)
        return stream, form, files


class CrlfMultiPartParser(MultiPartParser):
    def parse(self, stream: IO[bytes], boundary: bytes, content_length: int | None) -> tuple[Any, Any]:
        opening = b"--" + boundary + b"\r\n"
        head = _read_at_least(stream.read, len(opening))
        if not head.startswith(opening):
            return super().parse(_Replay(head, stream), boundary, content_length)
        return _Splitter(self, stream.read, boundary, content_length, head[len(opening):]).parts()


class _Splitter:
    """Walks the parts of a body whose first boundary line has been read."""

    def __init__(self, parser: CrlfMultiPartParser, read: Callable[[int], bytes], boundary: bytes,
                 content_length: int | None, rest: bytes) -> None:
        self.parser, self.read, self.content_length = parser, read, content_length
        self.delimiter = b"\r\n--" + boundary
        self.buffer = bytearray(rest)

    def parts(self) -> tuple[Any, Any]:
        fields, files = [], []
        for count in itertools.count(1):
            if self.parser.max_form_parts is not None and count > self.parser.max_form_parts:
                raise RequestEntityTooLarge()
            headers = self._headers()
            disposition = headers.get("content-disposition")
            if disposition is None:
                raise ValueError("Missing Content-Disposition header")
            options = parse_options_header(disposition)[1]
            name, filename = options.get("name"), options.get("filename")
            if filename is None:
                value, last = self._field()
                fields.append((name, value.decode(self.parser.get_part_charset(headers), "replace")))
            else:
                container = self.parser.start_file_streaming(File(name=name, headers=headers, filename=filename),
                                                            self.content_length)
                last = self._body(container.write)
                container.seek(0)
                files.append((name, FileStorage(container, filename, name, headers=headers)))
            if last:
                break
        while self.read(CHUNK):  # the epilogue, which carries nothing
            pass
        return self.parser.cls(fields), self.parser.cls(files)

    def _headers(self) -> Headers:
        while True:
            if self.buffer.startswith(b"\r\n"):
                raise ValueError("Missing Content-Disposition header")
            end = self.buffer.find(b"\r\n\r\n")
            if end >= 0:
                block = HEADER_CONTINUATION.sub(b" ", bytes(self.buffer[:end]))
                del self.buffer[:end + 4]
                return Headers([_header(line) for line in block.split(b"\r\n") if line.strip(b" \t")])
            if len(self.buffer) > MAX_HEADER_BLOCK:
                raise ValueError("the headers of a part are too long")
            self._more()

    def _field(self) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        limit = self.parser.max_form_memory_size
        size = 0

        def keep(data: bytes) -> None:
            nonlocal size
            size += len(data)
            if limit is not None and size > limit:
                raise RequestEntityTooLarge()
            chunks.append(data)
        last = self._body(keep)
        return b"".join(chunks), last

    def _body(self, write: Callable[[bytes], Any]) -> bool:
        """Passes the part's content to `write`; True when it ended with the closing boundary."""
        delimiter, search_from = self.delimiter, 0
        while True:
            found = self.buffer.find(delimiter, search_from)
            if found < 0:
                safe = len(self.buffer) - len(delimiter) + 1  # before this, no delimiter can begin
                if safe > 0:
                    write(bytes(self.buffer[:safe]))
                    del self.buffer[:safe]
                search_from = 0
                self._more()
                continue
            ending = self._boundary_ending(found + len(delimiter))
            if ending is None:  # the delimiter's bytes followed by something else: content after all
                search_from = found + 1
                continue
            write(bytes(self.buffer[:found]))
            end, last = ending
            del self.buffer[:end]
            return last

    def _boundary_ending(self, at: int) -> tuple[int, bool] | None:
        """After a delimiter: optional blanks, then CRLF (another part) or `--` (the last). Returns where the
        boundary line ends and whether it was the last, or None when these bytes are not a boundary line."""
        while True:
            position = at
            while position < len(self.buffer) and self.buffer[position] in b" \t":
                position += 1
            if len(self.buffer) - position >= 2:
                break
            self._more()
        following = self.buffer[position:position + 2]
        if following == b"--":
            return len(self.buffer), True
        if following == b"\r\n":
            return position + 2, False
        return None

    def _more(self) -> None:
        chunk = self.read(CHUNK)
        if not chunk:
            raise ValueError("Unexpected end of form data")
        self.buffer += chunk


def _header(line: bytes) -> tuple[str, str]:
    name, _, value = line.strip(b" \t").decode().partition(":")
    return name.strip(" \t"), value.strip(" \t")


def _read_at_least(read: Callable[[int], bytes], size: int) -> bytes:
    head = b""
    while len(head) < size:
        chunk = read(max(CHUNK, size))
        if not chunk:
            break
        head += chunk
    return head


class _Replay:
    """A stream that gives `head` first, then the rest of `stream`."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self.head, self.stream = head, stream

    def read(self, size: int = -1) -> bytes:
        if self.head:
            head, self.head = self.head, b""
            return head
        return self.stream.read(size)
