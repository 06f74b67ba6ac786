"""RFC 6455 framing: server frames at each length encoding, and the strict client-frame reader."""

from __future__ import annotations

import struct

import pytest

from cryptoviz.hub.wsframe import (
    BINARY,
    CLOSE,
    CONTINUATION,
    PING,
    TEXT,
    Reader,
    WsError,
    build,
    close_code,
    close_frame,
    payload_of,
    unmask,
)
from tests.hub.rawws import client_frame


@pytest.mark.parametrize(("size", "header"), [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)])
def test_server_frames_use_the_shortest_length_encoding(size: int, header: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    frame = build(TEXT, payload)
    assert len(frame) == header + size
    assert frame[0] == 0x81
    assert not frame[1] & 0x80  # never masked
    assert payload_of(frame) == payload


def test_unmask_is_its_own_inverse_and_matches_the_rfc_example() -> None:
    mask = bytes([0x37, 0xFA, 0x21, 0x3D])
    assert unmask(bytes([0x7F, 0x9F, 0x4D, 0x51, 0x58]), mask) == b"Hello"  # RFC 6455, 5.7
    data = bytes(range(200))
    assert unmask(unmask(data, mask), mask) == data


def test_the_reader_returns_messages_as_their_bytes_arrive() -> None:
    reader = Reader(512)
    stream = client_frame(TEXT, b'{"a": 1}') + client_frame(PING, b"p") + client_frame(BINARY, b"\x00\xff")
    for i in range(len(stream)):  # one byte at a time: never a message before it is whole
        reader.feed(stream[i : i + 1])
        if i < 13:
            assert reader.next() is None
    assert [reader.next(), reader.next(), reader.next(), reader.next()] == [
        (TEXT, b'{"a": 1}'),
        (PING, b"p"),
        (BINARY, b"\x00\xff"),
        None,
    ]


def test_an_announced_oversize_message_is_refused_before_its_payload() -> None:
    reader = Reader(512)
    reader.feed(client_frame(TEXT, b"x" * 70_000)[:14])  # the 64-bit length header, no payload yet
    with pytest.raises(WsError) as refused:
        reader.next()
    assert refused.value.code == 1009
    reader = Reader(512)
    reader.feed(client_frame(TEXT, b"x" * 512))  # exactly the limit is fine
    assert reader.next() == (TEXT, b"x" * 512)


def test_fragments_are_joined_and_their_total_is_limited() -> None:
    reader = Reader(10)
    reader.feed(client_frame(TEXT, b"ab", fin=False) + client_frame(CONTINUATION, b"cd"))
    assert reader.next() == (TEXT, b"abcd")
    reader.feed(client_frame(TEXT, b"x" * 6, fin=False) + client_frame(CONTINUATION, b"y" * 6))
    with pytest.raises(WsError, match="larger than 10 bytes"):
        reader.next()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (client_frame(TEXT, b"{}", masked=False), 1002),
        (client_frame(TEXT, b"{}", rsv=0x20), 1002),
        (client_frame(0xB, b""), 1002),
        (client_frame(PING, b"", fin=False), 1002),
        (client_frame(CONTINUATION, b"x"), 1002),
        (client_frame(TEXT, b"a", fin=False) + client_frame(TEXT, b"b"), 1002),
        (client_frame(TEXT, "é".encode()[:1]), 1007),
    ],
)
def test_faults_carry_their_close_code(frame: bytes, code: int) -> None:
    reader = Reader(512)
    reader.feed(frame)
    with pytest.raises(WsError) as fault:
        reader.next()
    assert fault.value.code == code


def test_close_frames_both_ways() -> None:
    assert close_code(b"") == 1005
    assert close_code(struct.pack("!H", 4001) + b"bye") == 4001
    for bad in (b"\x03", struct.pack("!H", 1005), struct.pack("!H", 999), struct.pack("!H", 2000)):
        with pytest.raises(WsError):
            close_code(bad)
    with pytest.raises(WsError) as fault:
        close_code(struct.pack("!H", 1000) + b"\xff")
    assert fault.value.code == 1007
    frame = close_frame(1008, "é" * 200)  # cut to a control frame, on a character boundary
    assert frame[0] == 0x80 | CLOSE
    assert len(frame) <= 127
    payload_of(frame)[2:].decode()
    assert close_frame(1005, "ignored") == bytes([0x88, 0])
