"""Content-addressed blobs in Postgres (the model_blobs table, migration 016), as db/blobs.ts reads them."""

import hashlib

import psycopg


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def get_blob(conn: psycopg.Connection, sha256: str) -> bytes | None:
    """The bytes stored under `sha256`, checked against it; None when there are none."""
    row = conn.execute("SELECT bytes FROM model_blobs WHERE sha256 = %s", (sha256,)).fetchone()
    if row is None:
        return None
    data = bytes(row[0])
    actual = sha256_hex(data)
    if actual != sha256:
        raise ValueError(f"blob {sha256} is corrupt: its bytes hash to {actual}")
    return data


def put_blob(conn: psycopg.Connection, data: bytes, media_type: str) -> str:
    """Stores the bytes under their sha256 (a no-op when they are already there) and returns it."""
    sha256 = sha256_hex(data)
    conn.execute(
        "INSERT INTO model_blobs (sha256, media_type, size_bytes, bytes) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (sha256) DO NOTHING",
        (sha256, media_type, len(data), data),
    )
    return sha256
