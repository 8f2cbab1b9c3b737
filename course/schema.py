"""Creating the app's tables safely when several app processes open one database at once.

Replicas of the app behind a reverse proxy share one PostgreSQL database (docs/workshops.md). On
an empty database they create the tables when their first visitors arrive, often in the same
second; two `CREATE TABLE` of one name race inside PostgreSQL's catalogue and one replica fails
("duplicate key value violates unique constraint pg_type_typname_nsp_index"). Every process takes
one advisory lock for the transaction that creates or upgrades tables, so the second waits for the
first, then finds the tables there. SQLite serialises writers by itself and needs nothing.
"""

from __future__ import annotations

import sqlalchemy as sa

# Any fixed number: what matters is that every process of the app takes the same one.
SCHEMA_LOCK_KEY = 7_466_816_572_011


def lock_schema(conn: sa.Connection) -> None:
    """Hold the app's schema lock until `conn`'s transaction ends (PostgreSQL; elsewhere a no-op)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})


def create_tables(engine: sa.Engine, metadata: sa.MetaData) -> None:
    """`metadata.create_all` in one transaction under the schema lock."""
    with engine.begin() as conn:
        lock_schema(conn)
        metadata.create_all(conn)
