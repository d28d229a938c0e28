"""Unico: real-time, one-to-one personalization."""

__version__ = "0.1.0"
