"""Fixtures: a real Postgres from DATABASE_URL (migrated; test/python/pytest.test.ts gives a fresh one)."""

import os
from collections.abc import Iterator

import psycopg
import pytest

from remedy_worker.activities import TrainingActivities


@pytest.fixture(scope="session")
def database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        pytest.skip("DATABASE_URL is not set (test/python/pytest.test.ts sets it to a fresh database)")
    return url


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url, autocommit=True) as c:
        yield c


@pytest.fixture
def activities(database_url: str) -> TrainingActivities:
    return TrainingActivities(database_url)
