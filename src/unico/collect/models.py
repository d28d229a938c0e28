"""Pydantic models of the tracking API (Segment's HTTP Tracking API spec), for the OpenAPI
document. Requests are validated by ``collect.validation``, which accepts exactly these
shapes and also bounds sizes, depth and strings."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from unico.profiles.consent import PURPOSES


class _Common(BaseModel):
    model_config = ConfigDict(extra="allow")

    anonymousId: str | None = Field(None, max_length=255, description="Either this or userId.")
    userId: str | None = Field(None, max_length=255, description="Either this or anonymousId.")
    messageId: str | None = Field(None, max_length=255, description="De-duplication key.")
    timestamp: str | None = Field(None, description="ISO 8601 time of the event.")
    sentAt: str | None = Field(None, description="ISO 8601 time the client sent it (skew fix).")
    context: dict[str, Any] | None = None
    integrations: dict[str, Any] | None = None
    writeKey: str | None = Field(None, description="The write key, if not sent as Basic auth.")


class TrackMessage(_Common):
    event: str = Field(..., min_length=1, max_length=255)
    properties: dict[str, Any] | None = None


class IdentifyMessage(_Common):
    traits: dict[str, Any] | None = None


class PageMessage(_Common):
    name: str | None = Field(None, max_length=255)
    properties: dict[str, Any] | None = None


class ScreenMessage(PageMessage):
    pass


class GroupMessage(_Common):
    groupId: str = Field(..., min_length=1, max_length=255)
    traits: dict[str, Any] | None = None


class AliasMessage(_Common):
    previousId: str = Field(..., min_length=1, max_length=255)
    userId: str | None = Field(..., max_length=255)


class BatchItem(_Common):
    type: Literal["track", "identify", "page", "screen", "group", "alias"]


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    batch: list[BatchItem] = Field(..., description="Up to 500 KB of messages in all.")
    sentAt: str | None = None
    context: dict[str, Any] | None = Field(None, description="Merged into every message.")
    integrations: dict[str, Any] | None = None
    writeKey: str | None = None


class ConsentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    userId: str | None = Field(None, max_length=255)
    anonymousId: str | None = Field(None, max_length=255)
    purposes: dict[str, bool] = Field(..., description=f"Any of: {', '.join(PURPOSES)}.")
    timestamp: str | None = None
    messageId: str | None = Field(None, max_length=255)
    context: dict[str, Any] | None = None
    writeKey: str | None = None


class IngestResponse(BaseModel):
    success: bool
    accepted: int
    rejected: int
    duplicates: int
    errors: list[dict[str, Any]] = []


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None


class ErrorResponse(BaseModel):
    error: ErrorBody


TYPE_MODELS: dict[str, type[BaseModel]] = {
    "track": TrackMessage,
    "identify": IdentifyMessage,
    "page": PageMessage,
    "screen": ScreenMessage,
    "group": GroupMessage,
    "alias": AliasMessage,
}
