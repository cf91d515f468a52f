"""Linearizability checker: Wing–Gong/Lowe search with P-compositionality.

``check(history, "cas-register", initial=0, time_limit=10)`` -> `Result` with ``valid``
True, False (with a counterexample) or "unknown" (time or memory budget). Models live in
`models`, the search in `search`, the command line in `cli`.
"""

from .models import FAIL, IDENTITY, MODELS, Model, ModelError, get_model, register_model
from .search import Result, check

__all__ = [
    "MODELS",
    "FAIL",
    "IDENTITY",
    "Model",
    "ModelError",
    "Result",
    "check",
    "get_model",
    "register_model",
]
