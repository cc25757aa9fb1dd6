"""The payload codec: the same format as codec/codec.ts (test/python/codec.test.ts checks both ways)."""

import asyncio
import base64
import os

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.converter import DefaultFailureConverterWithEncodedAttributes
from temporalio.exceptions import ApplicationError

from remedy_worker.codec import AesGcmCodec, CodecKey, CodecKeyError, data_converter_for, parse_codec_keys


def key(name: str) -> CodecKey:
    return CodecKey(name, os.urandom(32))


def payload(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=text.encode())


def test_round_trip_hides_the_data_and_names_the_key():
    codec = AesGcmCodec([key("k1")])
    original = payload('{"secret": "salary 91000"}')
    [sealed] = asyncio.run(codec.encode([original]))
    assert sealed.metadata["encoding"] == b"binary/encrypted"
    assert sealed.metadata["encryption-key-id"] == b"k1"
    assert sealed.metadata["encryption-cipher"] == b"AES-256-GCM"
    assert b"salary" not in sealed.data and len(sealed.data) == 28 + len(original.SerializeToString())
    assert asyncio.run(codec.decode([sealed])) == [original]


def test_rotation_encrypts_with_the_first_key_and_decrypts_with_any():
    old, new = key("k1"), key("k2")
    [sealed] = asyncio.run(AesGcmCodec([old]).encode([payload("1")]))
    rotated = AesGcmCodec([new, old])
    assert asyncio.run(rotated.decode([sealed])) == [payload("1")]
    [resealed] = asyncio.run(rotated.encode([payload("1")]))
    assert resealed.metadata["encryption-key-id"] == b"k2"


def test_refusals_say_what_to_do():
    [sealed] = asyncio.run(AesGcmCodec([key("k1")]).encode([payload("x")]))
    with pytest.raises(CodecKeyError, match='key "k1", which this process does not have: add it to REMEDY_CODEC_KEYS'):
        asyncio.run(AesGcmCodec([key("k2")]).decode([sealed]))
    codec = AesGcmCodec([key("k1")])
    [sealed] = asyncio.run(codec.encode([payload("x")]))
    tampered = Payload(metadata=sealed.metadata, data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    with pytest.raises(CodecKeyError, match="does not authenticate"):
        asyncio.run(codec.decode([tampered]))
    assert asyncio.run(codec.decode([payload("plain")])) == [payload("plain")]


def test_key_parsing():
    raw = base64.b64encode(bytes(range(32))).decode()
    assert parse_codec_keys(f" k2:{raw}, k1:{raw} ") == [
        CodecKey("k2", bytes(range(32))),
        CodecKey("k1", bytes(range(32))),
    ]
    with pytest.raises(CodecKeyError, match='entry 1 is not "<key id>:<base64 key>"'):
        parse_codec_keys("just-a-key")
    with pytest.raises(CodecKeyError, match='key "k1" is 16 bytes; it must be 32'):
        parse_codec_keys("k1:" + base64.b64encode(bytes(16)).decode())


def test_failure_messages_and_stacks_are_encrypted():
    converter = data_converter_for([key("k1")])
    assert converter.failure_converter_class is DefaultFailureConverterWithEncodedAttributes
    failure = Failure()
    asyncio.run(converter.encode_failure(ApplicationError("row 3 of salaries.csv", type="TrainingDataError"), failure))
    assert failure.message == "Encoded failure"
    assert failure.encoded_attributes.metadata["encoding"] == b"binary/encrypted"
    assert b"salaries" not in failure.encoded_attributes.data
    decoded = asyncio.run(converter.decode_failure(failure))
    assert isinstance(decoded, ApplicationError) and decoded.message == "row 3 of salaries.csv"
