"""Workspace settings and API keys."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from unico.profiles.consent import DEFAULT_CONSENT, PURPOSES

KeyKind = Literal["write", "secret"]
KEY_PREFIX: dict[str, str] = {"write": "wk", "secret": "sk"}


class WorkspaceSettings(BaseModel):
    """Per-workspace settings, stored as JSON on the workspace row."""

    model_config = ConfigDict(extra="forbid")

    consent_defaults: dict[str, StrictBool] = Field(default_factory=lambda: dict(DEFAULT_CONSENT))
    timezone: str = "UTC"
    languages: list[str] = Field(default_factory=lambda: ["en"], max_length=50)

    @field_validator("consent_defaults")
    @classmethod
    def _purposes(cls, value: dict[str, bool]) -> dict[str, bool]:
        unknown = set(value) - set(PURPOSES)
        if unknown:
            raise ValueError(f"unknown purposes: {', '.join(sorted(unknown))}")
        return {**DEFAULT_CONSENT, **value}

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


@dataclass(frozen=True, slots=True)
class Workspace:
    workspace_id: str
    name: str
    settings: WorkspaceSettings
    created_at: int


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the workspace a key belongs to and the key's kind."""

    workspace_id: str
    kind: KeyKind


@dataclass(frozen=True, slots=True)
class CreatedWorkspace:
    workspace_id: str
    name: str
    write_key: str
    secret_key: str


def hash_key(key: str) -> str:
    """Keys are 192-bit random tokens, so a plain SHA-256 is enough to store them safely:
    there is nothing to brute-force, and lookups by hash stay O(1)."""
    return hashlib.sha256(key.encode()).hexdigest()
