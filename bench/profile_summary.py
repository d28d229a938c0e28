"""Summaries of py-spy's collapsed stacks (``py-spy record --format raw --threads``).

Each line is ``[process PID:"cmd";...]thread (TID): NAME;func (file:line);... COUNT`` (the
process frames come with ``--subprocesses``; threads of child processes are reported as
``child process / NAME``). We group by
function (line numbers dropped) and report, as shares of all samples: time per thread,
self time per function, self time per layer (package), and inclusive time of Unico's own
functions (and a few SQLAlchemy entry points), which is what points at a fix.

    .venv/bin/python bench/profile_summary.py bench/results/profile-sqlite.txt --duration 20
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path
from typing import Any

_LINE = re.compile(r":\d+\)$")
#: Leaf frames that stand for C code run by the event loop (uvloop, httptools, sockets).
_LOOP_LEAVES = ("Runner.run (asyncio/runners.py)",)
_LAYERS = [
    ("unico/", None),
    ("sqlalchemy/", "SQLAlchemy (compile, execute, result rows)"),
    ("uvicorn/", "web stack (uvicorn, starlette, fastapi, anyio, asyncio)"),
    ("starlette/", "web stack (uvicorn, starlette, fastapi, anyio, asyncio)"),
    ("fastapi/", "web stack (uvicorn, starlette, fastapi, anyio, asyncio)"),
    ("anyio/", "web stack (uvicorn, starlette, fastapi, anyio, asyncio)"),
    ("asyncio/", "web stack (uvicorn, starlette, fastapi, anyio, asyncio)"),
    ("random.py", "stdlib random (secrets.randbits -> os.urandom)"),
    ("threading.py", "threading (locks, conditions)"),
    ("concurrent/", "threading (locks, conditions)"),
]
#: Third-party frames worth showing inclusively next to Unico's.
_ENTRY_POINTS = (
    "Connection.execute (sqlalchemy/engine/base.py)",
    "DefaultDialect.do_commit (sqlalchemy/engine/default.py)",
    "DefaultDialect.do_execute (sqlalchemy/engine/default.py)",
    "DefaultDialect.do_executemany (sqlalchemy/engine/default.py)",
    "SQLCompiler.construct_params (sqlalchemy/sql/compiler.py)",
    "CursorResult.__iter__ (sqlalchemy/engine/cursor.py)",
    "JSON.bind_processor.<locals>.process (sqlalchemy/sql/sqltypes.py)",
    "JSON.result_processor.<locals>.process (sqlalchemy/sql/sqltypes.py)",
    "HttpToolsProtocol.data_received (uvicorn/protocols/http/httptools_impl.py)",
    "RequestResponseCycle.run_asgi (uvicorn/protocols/http/httptools_impl.py)",
    "run_in_threadpool (starlette/concurrency.py)",
)


def _frame(raw: str) -> str:
    return _LINE.sub(")", raw)


def _file(frame: str) -> str:
    return frame[frame.rfind("(") + 1 : -1]


def _split_processes(parts: list[str]) -> tuple[int, list[str]]:
    """With ``--subprocesses`` each stack starts with one ``process PID:"cmd"`` frame per
    level of the process tree: count and drop them."""
    depth = i = 0
    while i < len(parts) and parts[i].startswith("process "):
        while not parts[i].endswith('"') and i + 1 < len(parts):
            i += 1  # the quoted command line itself contained a ";"
        depth, i = depth + 1, i + 1
    return depth, parts[i:] or ["thread"]


def _layer(frame: str) -> str:
    if frame in _LOOP_LEAVES:
        return "event loop C code (uvloop, httptools, socket I/O)"
    path = _file(frame)
    for prefix, name in _LAYERS:
        if path.startswith(prefix):
            return name or path
    return path.split("/", 1)[0]


def summarize(
    path: Path, *, duration: float, rate: int, top: int = 20, thread: str | None = None
) -> dict[str, Any]:
    """Shares (0-100, of all samples) per thread, function (self), layer and Unico function
    (inclusive). ``duration * rate`` samples make one fully busy thread. With ``thread``,
    only the samples of threads of that name count."""
    threads: Counter[str] = Counter()
    own: Counter[str] = Counter()
    layers: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        processes, parts = _split_processes(stack.split(";"))
        name = parts[0].split(": ", 1)[-1] if ": " in parts[0] else "thread"
        if processes > 1:  # ``--subprocesses``: a child of the server (writer, worker)
            name = f"child process / {name}"
        if thread is not None and name != thread:
            continue
        frames = [_frame(f) for f in parts[1:]] or ["(no Python frame)"]
        threads[name] += n
        own[frames[-1]] += n
        layers[_layer(frames[-1])] += n
        for frame in set(frames):
            if _file(frame).startswith("unico/") or frame in _ENTRY_POINTS:
                inclusive[frame] += n
    total = sum(threads.values()) or 1

    def shares(counter: Counter[str], limit: int | None = None) -> list[tuple[str, float]]:
        return [(k, round(100 * v / total, 1)) for k, v in counter.most_common(limit)]

    return {
        "samples": total,
        "busy_share_of_one_core": round(100 * total / (duration * rate), 1),
        "threads": shares(threads),
        "self": shares(own, top),
        "layers": shares(layers),
        "inclusive": shares(inclusive, 2 * top),
    }


def render(summary: dict[str, Any]) -> str:
    """The summary as plain text (for the terminal and BENCHMARKS.md)."""
    out = [
        f"{summary['samples']} samples; the sampled threads were busy "
        f"{summary['busy_share_of_one_core']}% of one core's time",
    ]
    for title, key in (
        ("by thread", "threads"),
        ("self time by layer", "layers"),
        ("self time by function", "self"),
        ("inclusive time (Unico and SQL entry points)", "inclusive"),
    ):
        out.append(f"\n{title} (% of samples):")
        out += [f"  {share:5.1f}  {name}" for name, share in summary[key]]
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("path", type=Path)
    p.add_argument("--duration", type=float, default=20.0, help="seconds recorded")
    p.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    p.add_argument("--thread", help="only this thread (e.g. unico-writer, MainThread)")
    p.add_argument("--top", type=int, default=20)
    args = p.parse_args()
    summary = summarize(
        args.path, duration=args.duration, rate=args.rate, top=args.top, thread=args.thread
    )
    print(render(summary))


if __name__ == "__main__":
    main()
