"""Settings: one model, read once at start-up from ``UNICO_*`` variables, then passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from unico.core.errors import ConfigurationError

DEFAULT_SQLITE_PATH = Path(".unico") / "unico.db"


def default_database_url() -> str:
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"


class Settings(BaseSettings):
    """Every knob Unico has. Each is documented in README.md (a test checks)."""

    model_config = SettingsConfigDict(env_prefix="UNICO_", extra="forbid", frozen=True)

    database_url: str = Field(
        default_factory=default_database_url,
        description="SQLAlchemy URL of the store: sqlite:///PATH or postgresql+psycopg://…",
    )
    sqlite_synchronous: Literal["NORMAL", "FULL"] = Field(
        "NORMAL",
        description="SQLite WAL sync mode. NORMAL survives a killed process; FULL also power loss.",
    )
    sqlite_mmap_mib: int = Field(
        1024,
        ge=0,
        description="SQLite reads the database file through a memory map up to this size (0: "
        "off). Every connection then shares the OS page cache instead of copying pages.",
    )
    pool_size: int = Field(8, ge=1, le=200, description="Database connections per process.")
    auto_migrate: bool = Field(True, description="Apply database migrations at start-up.")
    max_event_bytes: int = Field(32 * 1024, ge=1024, description="Largest accepted event (JSON).")
    max_batch_bytes: int = Field(500 * 1024, ge=1024, description="Largest accepted request body.")
    max_batch_events: int = Field(2500, ge=1, description="Most events in one batch request.")
    max_depth: int = Field(16, ge=2, le=64, description="Deepest nesting of objects and lists.")
    max_string_chars: int = Field(8192, ge=64, description="Longest string value in an event.")
    max_key_chars: int = Field(255, ge=16, description="Longest object key in an event.")
    ingest_queue_events: int = Field(
        200_000, ge=1000, description="Events waiting for the writer before requests get 429."
    )
    ingest_group_events: int = Field(
        5000, ge=1, description="Most events the writer commits in one transaction."
    )
    ingest_timeout_seconds: float = Field(
        30.0, gt=0, description="How long a request waits for its commit before 503."
    )
    writer_process: bool = Field(
        True,
        description="On SQLite, `serve` runs the ingest writer in a process of its own.",
    )
    writer_socket: str | None = Field(
        None,
        description="Unix socket of a writer process shared by several serving processes "
        "(set by `unico serve --workers N` on SQLite for its workers).",
    )
    models_dir: str | None = Field(
        None,
        description="Directory where serving processes share fitted models: one process "
        "trains, the others load (set by `unico serve --workers N` when unset).",
    )
    profile_cache_size: int = Field(
        100_000,
        ge=0,
        description="Profiles the SQLite writer keeps in memory (0: none; PostgreSQL: never).",
    )
    session_gap_minutes: int = Field(30, ge=1, description="Inactivity that starts a new session.")
    key_cache_seconds: float = Field(
        30.0, ge=0, description="How long a resolved API key is cached (revocation delay)."
    )
    recent_events: int = Field(20, ge=0, le=500, description="Events shown on a profile.")
    # -- decide context settings --
    catalog_max_body_bytes: int = Field(
        32 * 1024 * 1024,
        ge=1024,
        description="Largest accepted catalog upload (POST /v1/catalog/items and /import).",
    )
    decide_train_minutes: float = Field(
        10.0,
        ge=0,
        description="Retrain a workspace's models this often when it has new "
        "interactions (0: no clock; first interactions, bursts and requests still train).",
    )
    decide_tail_ms: int = Field(
        200,
        ge=0,
        description="How often real-time models learn new interactions and early trainings "
        "are looked for (0: never; then only the clock and on-demand requests train).",
    )
    decide_retrain_interactions: int = Field(
        1000,
        ge=0,
        description="New interactions since a workspace's last training that start another "
        "soon after they stop arriving (0: only the clock). The first training always "
        "starts soon after the first interactions.",
    )
    decide_retrain_items: int = Field(
        100,
        ge=0,
        description="New catalog items since a workspace's last training that start another "
        "soon after they stop arriving (0: only the clock).",
    )
    decide_retrain_debounce_seconds: float = Field(
        3.0,
        ge=0,
        description="How long new interactions and items must pause before an early training "
        "starts (a burst that never pauses starts one after 20 times this).",
    )
    decide_epsilon: float = Field(
        0.05, ge=0, le=1, description="Default exploration rate of a placement (per slot)."
    )
    decide_seed: int = Field(0, description="Seed of the exploration's random choices.")
    decide_max_placements: int = Field(
        10, ge=1, le=100, description="Most placements one /v1/decide call may ask for."
    )
    decide_max_body_bytes: int = Field(
        16 * 1024, ge=1024, description="Largest accepted /v1/decide body."
    )
    decide_history: int = Field(
        50, ge=0, le=1000, description="Recent interactions of a person a decision uses."
    )
    decide_trending_half_life_days: float = Field(
        3.0, gt=0, description="Half-life of interactions in the trending strategy."
    )
    decide_placement_cache_seconds: float = Field(
        2.0,
        ge=0,
        description="How long placements are served from memory before a version "
        "check (changes made by this process show at once).",
    )

    # -- segments context settings --
    segment_sweep_seconds: float = Field(
        5.0, gt=0, description="Longest the segment sweeper waits before looking for due checks."
    )
    segment_window_points: int = Field(
        1000,
        ge=10,
        description="Events kept exactly per windowed aggregate and person; older ones are "
        "bucketed by minute, hour, day.",
    )
    segment_upload_max_bytes: int = Field(
        20 * 1024 * 1024, ge=1024, description="Largest static list upload (CSV)."
    )
    segment_upload_max_rows: int = Field(
        1_000_000, ge=1, description="Most identities in one static list upload."
    )

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql")):
            raise ValueError("database_url must start with sqlite:// or postgresql")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(**overrides: object) -> Settings:
    """Build the settings, turning any invalid value into a clear start-up error."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = [
            f"  UNICO_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
        ]
        raise ConfigurationError("invalid settings:\n" + "\n".join(lines)) from exc
