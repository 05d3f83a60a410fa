"""Persistence: SQLAlchemy models, engines per database, Alembic migrations and repositories."""
