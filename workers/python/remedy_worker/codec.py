"""Payload encryption compatible with Remedy's TypeScript codec (codec/codec.ts): AES-256-GCM, a key id in
each payload's metadata, data = iv(12) || tag(16) || ciphertext of the serialized Payload proto.

  REMEDY_CODEC_KEYS="k2:<base64 32 bytes>,k1:<base64 32 bytes>"    # the first key encrypts

`python -m remedy_worker.codec encode|decode` reads base64 of a serialized Payloads message on stdin and
writes base64 of the result (how the TypeScript tests check both directions).
"""

import asyncio
import base64
import binascii
import dataclasses
import os
import re
import sys
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
CIPHER = b"AES-256-GCM"
IV_BYTES = 12
TAG_BYTES = 16
ENTRY = re.compile(r"^([A-Za-z0-9_.-]{1,64}):([A-Za-z0-9+/=]+)$")


class CodecKeyError(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class CodecKey:
    id: str
    key: bytes


def parse_codec_keys(raw: str) -> list[CodecKey]:
    """Parses "id:base64,id:base64" (the first encrypts). Errors name the entry and say what to write."""
    keys = []
    entries = [s.strip() for s in raw.split(",") if s.strip() != ""]
    for i, entry in enumerate(entries, start=1):
        m = ENTRY.match(entry)
        if not m:
            raise CodecKeyError(f'REMEDY_CODEC_KEYS entry {i} is not "<key id>:<base64 key>"')
        try:
            key = base64.b64decode(m.group(2))
        except binascii.Error:
            raise CodecKeyError(f'REMEDY_CODEC_KEYS key "{m.group(1)}" is not valid base64') from None
        if len(key) != 32:
            raise CodecKeyError(
                f'REMEDY_CODEC_KEYS key "{m.group(1)}" is {len(key)} bytes; it must be 32 (e.g. openssl rand -base64 32)'
            )
        keys.append(CodecKey(m.group(1), key))
    return keys


class AesGcmCodec(PayloadCodec):
    def __init__(self, keys: Sequence[CodecKey]) -> None:
        if not keys:
            raise CodecKeyError("the payload codec needs at least one key")
        for k in keys:
            if len(k.key) != 32:
                raise CodecKeyError(f'key "{k.id}" is {len(k.key)} bytes; AES-256 needs 32 (base64 of 32 random bytes)')
        self.keys = list(keys)
        self.by_id = {k.id: AESGCM(k.key) for k in keys}

    def encode_one(self, payload: Payload) -> Payload:
        first = self.keys[0]
        iv = os.urandom(IV_BYTES)
        sealed = self.by_id[first.id].encrypt(iv, payload.SerializeToString(), None)  # ciphertext || tag
        data = iv + sealed[-TAG_BYTES:] + sealed[:-TAG_BYTES]
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID: first.id.encode(), "encryption-cipher": CIPHER}, data=data
        )

    def decode_one(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID, b"").decode("utf-8", "replace")
        aead = self.by_id.get(key_id)
        if aead is None:
            raise CodecKeyError(
                f'a payload is encrypted with key "{key_id}", which this process does not have: add it to REMEDY_CODEC_KEYS'
            )
        data = payload.data
        if len(data) < IV_BYTES + TAG_BYTES:
            raise CodecKeyError("an encrypted payload is too short to be one")
        iv, tag, ciphertext = data[:IV_BYTES], data[IV_BYTES : IV_BYTES + TAG_BYTES], data[IV_BYTES + TAG_BYTES :]
        try:
            plain = aead.decrypt(iv, ciphertext + tag, None)
        except InvalidTag:
            raise CodecKeyError(
                f'a payload encrypted with key "{key_id}" does not authenticate: it was altered or the key is wrong'
            ) from None
        return Payload.FromString(plain)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encode_one(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decode_one(p) for p in payloads]


def data_converter_for(keys: Sequence[CodecKey]) -> DataConverter:
    """Temporal's default converter, plus (with keys) the codec and encoded failure messages and stacks."""
    if not keys:
        return DataConverter.default
    return dataclasses.replace(
        DataConverter.default,
        payload_codec=AesGcmCodec(keys),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def data_converter_from_env(env: dict[str, str] | None = None) -> DataConverter:
    raw = (os.environ if env is None else env).get("REMEDY_CODEC_KEYS", "")
    return data_converter_for(parse_codec_keys(raw) if raw else [])


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in ("encode", "decode"):
        sys.stderr.write("usage: python -m remedy_worker.codec encode|decode  (base64 Payloads on stdin)\n")
        return 2
    keys = parse_codec_keys(os.environ.get("REMEDY_CODEC_KEYS", ""))
    codec = AesGcmCodec(keys)
    payloads = Payloads.FromString(base64.b64decode(sys.stdin.read().strip()))
    method = codec.encode if argv[0] == "encode" else codec.decode
    out = Payloads(payloads=asyncio.run(method(list(payloads.payloads))))
    sys.stdout.write(base64.b64encode(out.SerializeToString()).decode() + "\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except CodecKeyError as err:
        sys.stderr.write(f"{err}\n")
        sys.exit(1)
