"""Pydantic models of the tracking API (Segment's HTTP Tracking API spec), for the OpenAPI
document. Requests are validated by ``collect.validation``, which accepts exactly these
shapes and also bounds sizes, depth and strings."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from unico.profiles.consent import PURPOSES

#: Ids may be strings or integers (Segment clients send numeric user ids as they are).
Id = Annotated[str, Field(max_length=255)] | int


class _Common(BaseModel):
    model_config = ConfigDict(extra="allow")

    anonymousId: Id | None = Field(None, description="Either this or userId.")
    userId: Id | None = Field(None, description="Either this or anonymousId.")
    messageId: Id | None = Field(None, description="De-duplication key.")
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
    name: str | None = Field(None, description="Kept up to 255 characters.")
    properties: dict[str, Any] | None = None


class ScreenMessage(PageMessage):
    pass


class GroupMessage(_Common):
    groupId: Id
    traits: dict[str, Any] | None = None


class AliasMessage(_Common):
    previousId: Id
    userId: Id | None = Field(..., description="The id the previous one becomes.")


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

    userId: Id | None = None
    anonymousId: Id | None = None
    purposes: dict[str, bool] = Field(..., description=f"Any of: {', '.join(PURPOSES)}.")
    timestamp: str | None = None
    messageId: Id | None = None
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
