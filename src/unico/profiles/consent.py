"""Consent per purpose: the state on a profile, workspace defaults, and the one check.

A profile's consent is ``{purpose: {"granted": bool, "at": ms, "source": str}}``;
a purpose with no record falls back to the workspace default. Changes are
last-writer-wins by event time, so a late, older change never overrides a newer one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unico.core.errors import InvalidInput
from unico.core.event import Event
from unico.core.types import EpochMs

PURPOSES: tuple[str, ...] = (
    "analytics",
    "personalization",
    "marketing",
    "soft_profiling",
    "sensors",
)

#: Out of the box, analytics and personalization hold until withdrawn (the site's banner
#: reports withdrawals); the other purposes need an explicit grant.
DEFAULT_CONSENT: dict[str, bool] = {
    "analytics": True,
    "personalization": True,
    "marketing": False,
    "soft_profiling": False,
    "sensors": False,
}

ConsentState = dict[str, dict[str, Any]]


def is_granted(state: Mapping[str, Any] | None, defaults: Mapping[str, bool], purpose: str) -> bool:
    """Whether ``purpose`` is granted, given a profile's consent state and the workspace defaults.

    >>> is_granted({}, DEFAULT_CONSENT, "analytics")
    True
    >>> is_granted({"analytics": {"granted": False, "at": 1, "source": "api"}}, DEFAULT_CONSENT,
    ...            "analytics")
    False
    """
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    record = (state or {}).get(purpose)
    if record is not None:
        return bool(record["granted"])
    return bool(defaults.get(purpose, DEFAULT_CONSENT[purpose]))


def apply_change(
    state: ConsentState, purpose: str, granted: bool, at: EpochMs, source: str
) -> bool:
    """Record a change unless a newer one is already there. True when the state changed."""
    current = state.get(purpose)
    if current is not None and current["at"] > at:
        return False
    if current is not None and current["granted"] == granted:
        return False
    state[purpose] = {"granted": granted, "at": at, "source": source}
    return True


def merge_states(a: ConsentState, b: ConsentState) -> ConsentState:
    """Consent of two profiles of one person: per purpose, the newer decision wins."""
    out = dict(a)
    for purpose, record in b.items():
        if purpose not in out or record["at"] > out[purpose]["at"]:
            out[purpose] = record
    return out


def effective(state: Mapping[str, Any] | None, defaults: Mapping[str, bool]) -> dict[str, Any]:
    """Every purpose with its effective value and whether it comes from the default."""
    out: dict[str, Any] = {}
    for purpose in PURPOSES:
        record = (state or {}).get(purpose)
        if record is None:
            out[purpose] = {"granted": is_granted(None, defaults, purpose), "default": True}
        else:
            out[purpose] = {**record, "default": False}
    return out


def consent_changes(event: Event, prefix: str = "") -> dict[str, bool]:
    """The purposes a ``Consent Updated`` event sets: ``properties.purposes`` or top-level flags."""
    props = event.properties
    purposes = props.get("purposes", props)
    base = "properties.purposes" if "purposes" in props else "properties"
    if not isinstance(purposes, dict):
        raise InvalidInput("purposes must be an object of purpose: true|false", field=prefix + base)
    out: dict[str, bool] = {}
    for key, value in purposes.items():
        if key not in PURPOSES:
            if base == "properties":
                continue  # other properties may sit beside the flags
            raise InvalidInput(
                f"unknown purpose {key!r}; one of {', '.join(PURPOSES)}",
                field=f"{prefix}{base}.{key}",
            )
        if not isinstance(value, bool):
            raise InvalidInput("a purpose must be true or false", field=f"{prefix}{base}.{key}")
        out[key] = value
    if not out:
        raise InvalidInput(f"no purpose given; one of {', '.join(PURPOSES)}", field=prefix + base)
    return out
