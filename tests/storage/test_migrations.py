"""The models and the migrations describe the same schema (Alembic is the source of truth)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from gasguard.storage.migrate import alembic_config, engine_at_head
from gasguard.storage.models import Base


def test_models_match_the_migrations(any_database_url: str) -> None:
    engine = engine_at_head(any_database_url)
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_migrations_ship_inside_the_package() -> None:
    location = alembic_config("sqlite://").get_main_option("script_location")
    assert location is not None and location.endswith("gasguard/storage/migrations")
