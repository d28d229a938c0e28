"""Applies ``BENCH_PATCHES`` (comma-separated names from patches.py) at interpreter start."""

import os

if os.environ.get("BENCH_PATCHES"):
    from patches import apply

    apply(n for n in os.environ["BENCH_PATCHES"].split(",") if n)
