"""The experiments API (secret key): define, start, stop, results and the lift chart."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, Response

from unico.web.admin import Auth, Deps
from unico.web.body import read_json
from unico.web.responses import error_responses, json_response

#: What this router's errors mean, where the admin API's words do not say it.
_SAY = {
    400: "Bad request: weights that do not sum to 1 (or 100), a bad field",
    404: "No such experiment",
    409: "Running or stopped, overlapping in a layer, or a full layer",
    422: "Unknown placement, segment, item or event",
}

router = APIRouter(
    tags=["experiments"],
    responses=error_responses(400, 401, 403, 404, 409, 413, 422, say=_SAY),
)

ExperimentId = Annotated[str, Path(min_length=1, max_length=64, description="An experiment id.")]
Force = Annotated[
    bool, Query(description="Accept metrics on event names this workspace never received.")
]
MAX_BODY = 256 * 1024
_pages = Environment(
    loader=PackageLoader("unico.web", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


@router.post("/v1/experiments", summary="Create an experiment (a draft)", status_code=201)
async def create_experiment(request: Request, who: Auth, c: Deps, force: Force = False) -> Response:
    """``{"name", "target": {"placement"} | {"key"}, "variants": [{"name", "weight",
    "placement": {"strategy", "items", "rules"}, "payload"}] | "factors": [...],
    "metrics": [...], "segment", "traffic", "holdout", "layer", "method", "correction",
    "alpha", "mde", "allocation", "bandit"}``."""
    raw = await read_json(request, MAX_BODY)
    created = await run_in_threadpool(c.experiments.create, who.workspace_id, raw, force=force)
    return json_response(created, 201)


@router.get("/v1/experiments", summary="Every experiment")
def list_experiments(who: Auth, c: Deps) -> Response:
    return json_response({"experiments": c.experiments.list(who.workspace_id)})


@router.get("/v1/experiments/{experiment_id}", summary="One experiment")
def get_experiment(experiment_id: ExperimentId, who: Auth, c: Deps) -> Response:
    return json_response(c.experiments.get(who.workspace_id, experiment_id))


@router.patch("/v1/experiments/{experiment_id}", summary="Change a draft (or a running traffic)")
async def patch_experiment(
    experiment_id: ExperimentId, request: Request, who: Auth, c: Deps, force: Force = False
) -> Response:
    """A draft takes any field; a running experiment only ``name``, ``description`` and
    ``traffic`` (raising it only adds people); anything else is a 409."""
    raw = await read_json(request, MAX_BODY)
    saved = await run_in_threadpool(
        c.experiments.update, who.workspace_id, experiment_id, raw, force=force
    )
    return json_response(saved)


@router.post("/v1/experiments/{experiment_id}/start", summary="Start a draft")
def start_experiment(experiment_id: ExperimentId, who: Auth, c: Deps) -> Response:
    return json_response(c.experiments.start(who.workspace_id, experiment_id))


@router.post("/v1/experiments/{experiment_id}/stop", summary="Stop a running experiment")
def stop_experiment(experiment_id: ExperimentId, who: Auth, c: Deps) -> Response:
    return json_response(c.experiments.stop(who.workspace_id, experiment_id))


@router.get("/v1/experiments/{experiment_id}/results", summary="Results and verdicts")
def experiment_results(experiment_id: ExperimentId, who: Auth, c: Deps) -> Response:
    """Per variant and metric: users, conversions, mean, lift with interval, p-value (or
    chance to win), corrected p-value, verdict; the sample-ratio check."""
    return json_response(c.experiments.results(who.workspace_id, experiment_id))


@router.get(
    "/v1/experiments/{experiment_id}/chart",
    summary="Lift over time (HTML page with an inline SVG)",
    # Errors stay JSON, as everywhere: only the page itself is HTML.
    responses={200: {"description": "An HTML page", "content": {"text/html": {}}}},
)
def experiment_chart(experiment_id: ExperimentId, who: Auth, c: Deps) -> HTMLResponse:
    data = c.experiments.chart(who.workspace_id, experiment_id)
    page = _pages.get_template("experiments/chart.html")
    return HTMLResponse(page.render(**{**data, "svg": Markup(data["svg"])}))
