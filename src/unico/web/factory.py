"""An app built from ``UNICO_*`` variables, for ``uvicorn --factory`` with several workers."""

from __future__ import annotations

from fastapi import FastAPI

from unico.container import Container
from unico.core.settings import load_settings
from unico.web.app import create_app


def app_from_env() -> FastAPI:
    return create_app(Container.build(load_settings()))
