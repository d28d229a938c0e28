"""The CLI layer's commands that need the whole container (``unico catalog``, ``segments``,
``placements``, ``models``, the admin half of ``experiments``). They sit above the
composition root, so the contexts below never import it; pure command groups (``unico eval``,
``unico experiments analyze``) stay in their context."""
