"""Alembic environment for kiln-bench: online mode only, one transaction for the whole run
(Alembic's default), URL from KILN_BENCH_ALEMBIC_URL."""
import os

from alembic import context
from sqlalchemy import create_engine, pool

url = os.environ["KILN_BENCH_ALEMBIC_URL"]
engine = create_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
