"""``unico eval``: offline evaluation of the recommenders, and the search for their settings."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from unico.core.errors import UnicoError
from unico.recommend.movielens import DEFAULT_DATA_DIR, Ratings, load_movielens_100k

if TYPE_CHECKING:
    from unico.recommend.seeds import SeedsReport
    from unico.recommend.tuning import Tuning

T = TypeVar("T")
eval_app = typer.Typer(help="Offline evaluation.", no_args_is_help=True)

DataOption = Annotated[
    Path, typer.Option(help="Folder holding recbole-1.2.1-*.whl (make movielens).")
]
KOption = Annotated[int, typer.Option(min=1, help="Length of each recommendation list.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@eval_app.command("recs")
def recs(
    data: DataOption = DEFAULT_DATA_DIR,
    seeds: Annotated[
        int,
        typer.Option(
            min=1, help="Number of random 75/25 splits: seeds 0..N-1 (each also seeds the models)."
        ),
    ] = 5,
    k: KOption = 10,
    settings: Annotated[
        Path | None,
        typer.Option(help="ALS and EASE settings written by `unico eval tune --out`."),
    ] = None,
    tune: Annotated[
        bool,
        typer.Option(
            "--tune", help="Search the ALS and EASE settings on each split's training rows."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Score every recommender and the tuned hybrid on MovieLens-100k over several 75/25
    splits: mean ± standard deviation (min to max) per metric, and hybrid against the best
    single recommender on each split and on the means."""
    from unico.recommend.evaluate import ModelSettings

    if settings is not None and tune:
        _fail("--settings and --tune exclude each other: give fixed settings or search them")
    ratings = _ratings(data)
    chosen = ModelSettings()
    if settings is not None:
        from unico.recommend.tuning import read_settings

        chosen = _or_fail(lambda: read_settings(settings))
    with _progress(as_json) as start:
        # Imported here: every recommender (scikit-learn's included) loads with it, which
        # the other commands, and `serve`'s supervising process, do not need.
        from unico.recommend.seeds import evaluate_seeds, steps_of_evaluate_seeds

        step = start(steps_of_evaluate_seeds(seeds, tune))
        report = evaluate_seeds(ratings, range(seeds), k, chosen, tune, on_step=step)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
        return
    screen = _stdout()
    screen.print(_spread_table(report))
    screen.print(_check_table(report))


@eval_app.command("tune")
def tune_command(
    data: DataOption = DEFAULT_DATA_DIR,
    seed: Annotated[
        int, typer.Option(help="The 75/25 split whose training rows are searched.")
    ] = 0,
    k: KOption = 10,
    out: Annotated[
        Path | None, typer.Option(help="Write the chosen settings here (for eval recs --settings).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Search a small grid of ALS and EASE settings on a validation split carved from one
    split's training rows (never its test rows); print every point's validation scores and
    the settings chosen."""
    ratings = _ratings(data)
    with _progress(as_json) as start:
        from unico.recommend.tuning import steps_of_tune, tune

        step = start(steps_of_tune())
        tuning = tune(ratings, seed, k, on_step=step)
    document = tuning.to_json()
    if out is not None:
        out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(document, indent=2))
        return
    screen = _stdout()
    screen.print(_tuning_table(tuning))
    chosen = ", ".join(f"{name} {value:g}" for name, value in document["settings"].items())
    screen.print(f"chosen: {chosen}" + (f" (written to {out})" if out else ""))


def _stdout() -> Console:
    out = Console(soft_wrap=True)
    if not out.is_terminal:
        # Rich lays a pipe or a file out at 80 columns, which squeezes the tables below
        # into ellipses; a terminal keeps its own width.
        out.width = 140
    return out


def _ratings(data: Path) -> Ratings:
    return _or_fail(lambda: load_movielens_100k(data))


def _or_fail(make: Callable[[], T]) -> T:
    try:
        return make()
    except UnicoError as exc:
        _fail(exc.message)


def _fail(message: str) -> NoReturn:
    _stdout().print(f"[red]{message}[/red]")
    raise typer.Exit(2)


@contextmanager
def _progress(as_json: bool) -> Iterator[Callable[[int], Callable[[str], None]]]:
    """A rich bar; ``start(total)`` gives the ``on_step`` that advances it."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    # The bar goes to stderr with --json so that stdout stays pure JSON.
    with Progress(
        *columns, TimeElapsedColumn(), console=Console(stderr=as_json), transient=True
    ) as progress:

        def start(total: int) -> Callable[[str], None]:
            task = progress.add_task("loading", total=total)

            def step(label: str) -> None:
                progress.update(task, description=label)
                progress.advance(task)

            return step

        yield start


def _spread_table(report: SeedsReport) -> Table:
    k, seeds = report.k, report.seeds
    how = "settings tuned per split" if report.tuned_per_seed else "fixed settings"
    table = Table(
        title=f"MovieLens-100k, 75/25 split per person, k={k}, seeds {seeds[0]}..{seeds[-1]} "
        f"({len(seeds)}; {how}): mean ± sample std [min, max]"
    )
    table.add_column("recommender", no_wrap=True)
    for column in (f"NDCG@{k}", f"P@{k}", f"R@{k}", f"MAP@{k}", "cover", "fit s", "ms/q"):
        table.add_column(column, justify="right", no_wrap=True)
    spreads = report.spreads()
    best = max(s["ndcg"].mean for s in spreads.values())
    for name, s in spreads.items():
        ndcg = s["ndcg"]
        cell = f"{ndcg.mean:.3f} ± {ndcg.std:.3f} [{ndcg.min:.3f}, {ndcg.max:.3f}]"
        table.add_row(
            name,
            f"[bold]{cell}[/bold]" if ndcg.mean == best else cell,
            *(f"{s[m].mean:.3f} ± {s[m].std:.3f}" for m in ("precision", "recall", "map")),
            f"{s['coverage'].mean:.2f}",
            f"{s['fit_seconds'].mean:.2f}",
            f"{s['recommend_ms'].mean:.2f}",
        )
    return table


def _check_table(report: SeedsReport) -> Table:
    table = Table(title=f"hybrid ≥ best single recommender at NDCG@{report.k}")
    for column in ("seed", "hybrid", "best single", "its NDCG", "margin", "holds"):
        table.add_column(column, justify="right", no_wrap=True)
    for check in [*report.checks(), report.check_on_means()]:
        table.add_row(
            "means" if check.seed is None else str(check.seed),
            f"{check.hybrid:.4f}",
            check.best,
            f"{check.best_ndcg:.4f}",
            f"{check.margin:+.4f}",
            "yes" if check.holds else "[red]no[/red]",
        )
    return table


def _tuning_table(tuning: Tuning) -> Table:
    k = tuning.k
    table = Table(
        title=f"validation split of split {tuning.seed}'s training rows (75/25 of them), k={k}"
    )
    for column in ("model", "settings", f"NDCG@{k}", f"P@{k}"):
        table.add_column(column, justify="right" if column != "settings" else "left")
    chosen = {m: tuning.best(m) for m in ("als", "ease")}
    for scored in tuning.scores:
        settings = {
            n.removeprefix(f"{scored.model}_"): v
            for n, v in scored.settings.model_dump().items()
            if n.startswith(f"{scored.model}_")
        }
        label = ", ".join(f"{n} {v:g}" for n, v in settings.items())
        ndcg = f"{scored.ndcg:.4f}"
        table.add_row(
            scored.model,
            label,
            f"[bold]{ndcg}[/bold]" if scored is chosen[scored.model] else ndcg,
            f"{scored.precision:.4f}",
        )
    return table
