"""What a decision needs from experiments: the variant of a placement a person sees.

Experiments come after decide in the flow (they import decide's placements, rules and
requests), so decide declares this protocol and the experiments runtime implements it
(``unico.experiments.runtime.ExperimentRuntime``); decide never imports experiments."""

from __future__ import annotations

from typing import Any, Protocol

from unico.decide.people import Person
from unico.decide.placements import Placement
from unico.decide.request import DecideRequest


class VariantChooser(Protocol):
    """Running experiments on placements."""

    def apply(
        self,
        workspace_id: str,
        person: Person,
        request: DecideRequest,
        placement: Placement,
    ) -> tuple[Placement, dict[str, Any] | None]:
        """The placement as this person's variant has it, and ``{"id", "variant"}`` when the
        person is in one of its running experiments (else the placement and ``None``)."""
