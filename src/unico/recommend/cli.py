"""``unico eval``: offline evaluation of the recommenders."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from unico.core.errors import UnicoError
from unico.recommend.movielens import DEFAULT_DATA_DIR, load_movielens_100k

if TYPE_CHECKING:
    from unico.recommend.evaluate import Result

eval_app = typer.Typer(help="Offline evaluation.", no_args_is_help=True)
console = Console(soft_wrap=True)


@eval_app.command("recs")
def recs(
    data: Annotated[
        Path, typer.Option(help="Folder holding recbole-1.2.1-*.whl (make movielens).")
    ] = DEFAULT_DATA_DIR,
    seed: Annotated[int, typer.Option(help="Seed of the split and of the models.")] = 42,
    k: Annotated[int, typer.Option(help="Length of each recommendation list.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Score every recommender and the tuned hybrid on MovieLens-100k (75/25 split)."""
    try:
        ratings = load_movielens_100k(data)
    except UnicoError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from None
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    # The bar goes to stderr with --json so that stdout stays pure JSON.
    with Progress(*columns, console=Console(stderr=as_json), transient=True) as progress:
        # Imported here: every recommender (scikit-learn's included) loads with it, which
        # the other commands, and `serve`'s supervising process, do not need.
        from unico.recommend.evaluate import evaluate_all, steps_of_evaluate_all

        task = progress.add_task("loading", total=steps_of_evaluate_all())

        def step(label: str) -> None:
            progress.update(task, description=label)
            progress.advance(task)

        results = evaluate_all(ratings, seed=seed, k=k, on_step=step)
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in results], indent=2))
        return
    console.print(_table(results, k))


def _table(results: list[Result], k: int) -> Table:
    table = Table(title=f"MovieLens-100k, 75/25 split per person, k={k}")
    table.add_column("recommender", no_wrap=True)
    names = (f"NDCG@{k}", f"P@{k}", f"R@{k}", f"MAP@{k}", "cover")
    for column in (*names, "fit s", "ms/q"):
        table.add_column(column, justify="right", no_wrap=True)
    best = max(r.ndcg for r in results)
    for r in results:
        ndcg = f"{r.ndcg:.3f}"
        table.add_row(
            r.name,
            f"[bold]{ndcg}[/bold]" if r.ndcg == best else ndcg,
            f"{r.precision:.3f}",
            f"{r.recall:.3f}",
            f"{r.map:.3f}",
            f"{r.coverage:.2f}",
            f"{r.fit_seconds:.2f}",
            f"{r.recommend_ms:.2f}",
        )
    return table
