"""`StoreBase`: an open leakmon database connection, and the mapping of every
sqlite error to a `StoreError` naming the file and what failed."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from sqlite_utils import Database

from monitor.errors import StoreError
from monitor.store.convert import Row


def explain(exc: sqlite3.Error) -> str:
    """sqlite's message with a plain-words hint in front when one is known."""
    text = str(exc)
    hints = (
        ("not a database", "not an SQLite database"),
        ("readonly", "the database is read-only"),
        ("locked", "the database is locked by another process"),
        ("unable to open", "the database file cannot be opened"),
        ("FOREIGN KEY", "a row refers to a missing row"),
    )
    for needle, hint in hints:
        if needle in text:
            return f"{hint} ({text})"
    return text


class StoreBase:
    """The connection (`db`) to the database file at `path`; close it (or `with`)."""

    def __init__(self, db: Database, path: Path) -> None:
        self.db = db
        self.path = path

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"database {self.path}: cannot {doing}: {explain(exc)}") from exc

    def _rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Row]:
        """The rows of one of this class's own SELECTs (distinct column names) as
        dicts. Run on the connection: they never write, so sqlite-utils' savepoint
        guard of `query` (two more statements per read) is not needed."""
        cursor = self.db.conn.execute(sql, params)
        keys = [column[0] for column in cursor.description]
        return [dict(zip(keys, row, strict=True)) for row in cursor]
