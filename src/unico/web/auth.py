"""API keys on requests: write keys as HTTP Basic user (as Segment does) or ``writeKey``;
secret keys as ``Authorization: Bearer``."""

from __future__ import annotations

import base64
import binascii

from fastapi import Request

from unico.core.errors import Forbidden, Unauthorized
from unico.workspaces.model import Principal
from unico.workspaces.service import WorkspaceService


def _header_key(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("the Basic credentials are not valid base64", field="authorization")
        return "basic", decoded.partition(":")[0]
    if scheme == "bearer":
        return "bearer", value
    raise Unauthorized("use Basic (write key) or Bearer (secret key) auth", field="authorization")


def write_principal(
    request: Request, workspaces: WorkspaceService, body_key: object = None
) -> Principal:
    """The workspace of a write key sent as Basic user, Bearer token or ``writeKey`` field."""
    found = _header_key(request)
    key = found[1] if found else body_key
    if not key or not isinstance(key, str):
        raise Unauthorized(
            "a write key is required (Basic auth user or writeKey)", field="writeKey"
        )
    principal = workspaces.authenticate(key)
    if principal is None:
        raise Unauthorized("unknown or revoked write key", field="writeKey")
    if principal.kind != "write":
        raise Forbidden(
            "this is a secret key: never send it from a client; use the write key",
            field="writeKey",
            code="wrong_key_kind",
        )
    return principal


def secret_principal(request: Request, workspaces: WorkspaceService) -> Principal:
    """The workspace of a secret key sent as ``Authorization: Bearer``."""
    found = _header_key(request)
    if found is None or not found[1]:
        raise Unauthorized("a secret key is required: Authorization: Bearer SECRET_KEY")
    principal = workspaces.authenticate(found[1])
    if principal is None:
        raise Unauthorized("unknown or revoked secret key", field="authorization")
    if principal.kind != "secret":
        raise Forbidden(
            "a write key cannot reach the admin API; use the secret key",
            field="authorization",
            code="wrong_key_kind",
        )
    return principal
