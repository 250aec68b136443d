"""The only SQL in leakmon: schema and migrations, atomic crawl writes, queries, outbox."""

from monitor.store.db import Store

__all__ = ["Store"]
