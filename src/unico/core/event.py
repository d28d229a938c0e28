"""The validated event: what every source becomes before the pipeline sees it."""

from __future__ import annotations

from dataclasses import dataclass, field

from unico.core.types import EpochMs, JSONObject


@dataclass(slots=True)
class Event:
    """One validated message, ready for the pipeline."""

    type: str
    message_id: str
    timestamp: EpochMs
    received_at: EpochMs
    anonymous_id: str | None = None
    user_id: str | None = None
    name: str | None = None
    previous_id: str | None = None
    group_id: str | None = None
    properties: JSONObject = field(default_factory=dict)
    traits: JSONObject = field(default_factory=dict)
    context: JSONObject = field(default_factory=dict)
    integrations: JSONObject = field(default_factory=dict)
    #: The request carried ``Sec-GPC: 1``.
    gpc: bool = False
    #: Where consent changes carried by this event come from ("event", "api", ...).
    source: str = "event"
    #: The JSON text of the stored columns (properties, traits, context, integrations),
    #: when it was made already: the API process makes it for the writer process, so the
    #: writer neither decodes the whole context nor encodes any column again.
    encoded: dict[str, str] | None = None


#: The parts of ``context`` that profile building reads; the rest is only stored.
PROFILE_CONTEXT_KEYS = ("consent", "sessionId", "externalIds", "traits")
STORED_COLUMNS = ("properties", "traits", "context", "integrations")
