"""Figure set-up shared by every plot: matplotlib on the Agg backend, imported without
the docstring work nobody reads, one style (``STYLE``, applied with ``rc_context``), a
figure built with the object API (``Figure`` + ``FigureCanvasAgg``, no pyplot state
machine) at a fixed dpi, and PNG encoding."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")

def _quick_import() -> None:
    """Import the parts of matplotlib the plots use, without building the docstrings of
    the ``set`` methods of its artist classes.

    On import, each `Artist` subclass writes a docstring for its generated ``set`` listing
    every property (``matplotlib.artist.kwdoc``): about a fifth of matplotlib's import
    time, spent on text only ``help()`` reads. A report is often the only thing a process
    draws (``harness report DIR``), so this matters. The docstrings of the classes
    imported here say "Properties:" with no list; nothing else changes, and when
    matplotlib's figure module was already imported this does nothing.
    """
    import sys

    if "matplotlib.figure" in sys.modules:
        return
    import matplotlib.artist as martist

    kwdoc = martist.kwdoc
    martist.kwdoc = lambda artist: "Properties:\n    (see the matplotlib documentation)"
    try:
        import matplotlib.backends.backend_agg
        import matplotlib.collections
        import matplotlib.figure  # noqa: F401
    finally:
        martist.kwdoc = kwdoc


_quick_import()

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from reports.rundata import RunData  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

DPI = 90

#: one style for every figure (applied with rc_context, so it never leaks into the
#: caller's own matplotlib use)
STYLE: dict[RcKeyType, Any] = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e6e6e6",
    "grid.linewidth": 0.6,
    "text.parse_math": False,
    # FreeType's autohinter costs about a third of the drawing time of a run's plots
    # (text dominates them) and changes nothing one can see at this size
    "text.hinting": "no_hinting",
    "savefig.dpi": DPI,
    "figure.dpi": DPI,
}

MARKERS = {"read": "o", "write": "^", "cas": "s", "send": "^", "poll": "o", "commit": "s"}
OTHER_MARKERS = ("D", "v", "P", "X", "*", "<", ">")


def _figure(w_in: float, h_in: float) -> Figure:
    fig = Figure(figsize=(w_in, h_in), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


#: the note ``savefig`` writes into a PNG
SOFTWARE = f"Matplotlib version{matplotlib.__version__}, https://matplotlib.org/"


#: while `capture` runs: where `_save` puts each PNG's bytes (by path) instead of writing it
_captured: dict[Path, bytes] | None = None


@contextmanager
def capture() -> Iterator[dict[Path, bytes]]:
    """Within: the plots write no file; the bytes each would have written are kept in
    the dict this yields, under the path it was given."""
    global _captured
    before, _captured = _captured, {}
    try:
        yield _captured
    finally:
        _captured = before


def _save(fig: Figure, path: Path) -> Path:
    """Draw ``fig`` and write it as a PNG: what ``fig.savefig(path, dpi=DPI)`` writes,
    encoded by `reports.plots.png` (a third of Pillow's time for the same pixels)."""
    from reports.plots.png import png_bytes

    canvas = fig.canvas
    assert isinstance(canvas, FigureCanvasAgg)  # set by _figure
    canvas.draw()
    data = png_bytes(canvas.buffer_rgba(), DPI, {"Software": SOFTWARE})
    if _captured is not None:
        _captured[Path(path)] = data
        return Path(path)
    Path(path).write_bytes(data)
    return Path(path)


def _load(run: RunData | Path | str) -> RunData:
    return run if isinstance(run, RunData) else RunData(run)
