"""web.multipart splits CRLF bodies itself; it must give exactly what werkzeug's parser gives, chunk by chunk."""
import io
import random

import pytest
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import MultiPartParser

from web.multipart import CrlfMultiPartParser

BOUNDARY = b"----b0undary42"


class Trickle(io.RawIOBase):
    """Gives at most `step(n)` bytes per read, so parts and boundaries straddle reads."""

    def __init__(self, data: bytes, rng: random.Random) -> None:
        self.data, self.position, self.rng = data, 0, rng

    def read(self, size: int = -1) -> bytes:
        size = min(size if size >= 0 else len(self.data), self.rng.choice([1, 2, 7, 30, 4096, 70000]))
        chunk = self.data[self.position:self.position + size]
        self.position += len(chunk)
        return chunk


def body(parts: list[tuple[str, str | None, bytes]], boundary: bytes = BOUNDARY, epilogue: bytes = b"") -> bytes:
    out = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        out += b"--" + boundary + b"\r\nContent-Disposition: " + disposition.encode() + b"\r\n"
        if filename is not None:
            out += b"Content-Type: application/octet-stream\r\n"
        out += b"\r\n" + content + b"\r\n"
    return out + b"--" + boundary + b"--\r\n" + epilogue


def parse(parser_class, data: bytes, seed: int = 0, **limits):
    parser = parser_class(stream_factory=lambda **_: io.BytesIO(), cls=dict, **limits)
    form, files = parser.parse(Trickle(data, random.Random(seed)), BOUNDARY, len(data))
    return form, {name: (storage.filename, storage.stream.read()) for name, storage in files.items()}


def tricky_content(rng: random.Random) -> bytes:
    pieces = [b"\r\n--" + BOUNDARY[:rng.randrange(len(BOUNDARY))], b"\r\n--" + BOUNDARY + b"X", b"\r\n", b"\r",
              b"--", rng.randbytes(rng.randrange(0, 300)), b"\r\n--" + BOUNDARY + b" x"]
    return b"".join(rng.choice(pieces) for _ in range(rng.randrange(0, 12)))


def test_random_bodies_parse_as_werkzeug_parses_them():
    rng = random.Random(7)
    for case in range(300):
        parts = [(f"field{k}", rng.choice([None, f"f{k}.pdf", ""]), tricky_content(rng))
                 for k in range(rng.randrange(1, 5))]
        data = body(parts, epilogue=rng.choice([b"", b"ignored\r\n"]))
        assert parse(CrlfMultiPartParser, data, seed=case) == parse(MultiPartParser, data, seed=case), case


def test_a_large_file_straddling_many_reads_arrives_whole():
    content = random.Random(1).randbytes(300_000) + b"\r\n--" + BOUNDARY[:-1]
    form, files = parse(CrlfMultiPartParser, body([("metadata", None, b'{"a": 1}'), ("file", "x.pdf", content)]))
    assert form == {"metadata": '{"a": 1}'}
    assert files == {"file": ("x.pdf", content)}


def test_blanks_after_a_boundary_are_allowed_as_werkzeug_allows_them():
    data = (b"--" + BOUNDARY + b"\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue\r\n--" + BOUNDARY
            + b" \t\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\nother\r\n--" + BOUNDARY + b"--")
    assert parse(CrlfMultiPartParser, data)[0] == parse(MultiPartParser, data)[0] == {"a": "value", "b": "other"}


@pytest.mark.parametrize("data", [
    b"--" + BOUNDARY + b"\nContent-Disposition: form-data; name=\"a\"\n\nlf only\n--" + BOUNDARY + b"--\n",
    b"a preamble\r\n--" + BOUNDARY + b"\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--" + BOUNDARY
    + b"--\r\n",
])
def test_other_bodies_go_to_werkzeug(data):
    assert parse(CrlfMultiPartParser, data) == parse(MultiPartParser, data)
    assert parse(CrlfMultiPartParser, data)[0]["a"]


@pytest.mark.parametrize("data, message", [
    (body([("a", None, b"x")])[:-len(b"--" + BOUNDARY + b"--\r\n") - 2], "Unexpected end"),
    (b"--" + BOUNDARY + b"\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno closing boundary", "Unexpected end"),
    (b"--" + BOUNDARY + b"\r\nContent-Type: text/plain\r\n\r\nx\r\n--" + BOUNDARY + b"--\r\n",
     "Missing Content-Disposition"),
    (b"--" + BOUNDARY + b"\r\n\r\nx\r\n--" + BOUNDARY + b"--\r\n", "Missing Content-Disposition"),
    (b"--" + BOUNDARY + b"\r\nX-Long: " + b"a" * 20_000, "too long"),
])
def test_malformed_bodies_are_value_errors(data, message):
    with pytest.raises(ValueError, match=message):
        parse(CrlfMultiPartParser, data)


def test_limits_on_parts_and_field_size_hold():
    many = body([(f"f{k}", None, b"x") for k in range(5)])
    with pytest.raises(RequestEntityTooLarge):
        parse(CrlfMultiPartParser, many, max_form_parts=4)
    assert len(parse(CrlfMultiPartParser, many, max_form_parts=5)[0]) == 5
    big = body([("f", None, b"x" * 1000)])
    with pytest.raises(RequestEntityTooLarge):
        parse(CrlfMultiPartParser, big, max_form_memory_size=999)
