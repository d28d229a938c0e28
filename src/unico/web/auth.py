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
            decoded = base64.b64decode(value.encode("ascii"), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeError):
            raise Unauthorized(
                "the Basic credentials are not valid base64", field="authorization"
            ) from None
        return "basic", decoded.partition(":")[0]
    if scheme == "bearer":
        return "bearer", value
    raise Unauthorized("use Basic (write key) or Bearer (secret key) auth", field="authorization")


def header_write_principal(request: Request, workspaces: WorkspaceService) -> Principal | None:
    """The write key's workspace when the request carries one in its headers, else None.

    Checked before the body is read, so a wrong key costs no body parsing."""
    found = _header_key(request)
    if found is None or not found[1]:
        return None
    return _write(workspaces, found[1])


def write_principal(
    request: Request, workspaces: WorkspaceService, body_key: object = None
) -> Principal:
    """The workspace of a write key sent as Basic user, Bearer token or ``writeKey`` field."""
    found = header_write_principal(request, workspaces)
    if found is not None:
        return found
    if not body_key or not isinstance(body_key, str):
        raise Unauthorized(
            "a write key is required (Basic auth user or writeKey)", field="writeKey"
        )
    return _write(workspaces, body_key)


def _write(workspaces: WorkspaceService, key: str) -> Principal:
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
        raise Unauthorized(
            "a secret key is required: Authorization: Bearer SECRET_KEY", field="authorization"
        )
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
