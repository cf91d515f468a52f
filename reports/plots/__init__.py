"""PNG plots of a run (matplotlib, Agg): latency, throughput, who leads, partitions, logs.

Each ``plot_*`` function takes a `RunData` and a path, draws one figure, writes it and
returns the path, or returns None when the run has nothing to draw (no operations, no
leader trace, no partition, no Kafka trace). `write_plots` draws every one of them into
the run directory.

Speed matters (a campaign may rebuild hundreds of reports): figures are built with the
object API (``Figure`` + ``FigureCanvasAgg``, no pyplot state machine), one style for all,
a fixed layout (``subplots_adjust``, no ``tight_layout`` or ``bbox_inches="tight"``,
which lay the figure out twice) and dpi 90. Mathtext is off, so a ``$`` in a key or a
node name is drawn as a dollar sign instead of raising a parse error.

Fault windows are numbered F1, F2... in start order, the same numbers as on the HTML page.

The package, by job: `style` (figure set-up and styling), `frame` (the time axes with
fault windows and legends), one module per plot family (`operations`: latency and
throughput, `leaders`, `partitions`, `queue`: Kafka log offsets and unseen writes) and
`writer` (`write_plots`, optionally in two processes).
"""

from __future__ import annotations

from reports.plots.style import (
    DPI,
    MARKERS,
    OTHER_MARKERS,
    STYLE,
    _figure,
    _load,
    _save,
)

# isort: split
# style first: it selects the Agg backend and imports matplotlib's figure the quick way
from reports.plots.frame import (
    MAX_NAMED_WINDOWS,
    WIDTH_IN,
    _key,
    _legend_right,
    _shade,
    _time_frame,
)
from reports.plots.leaders import ROLE_KINDS, leader_segments, plot_leaders
from reports.plots.operations import plot_latency, plot_throughput
from reports.plots.partitions import _components, plot_partitions
from reports.plots.queue import HW_FIELDS, LEO_FIELDS, plot_log_offsets, plot_unseen
from reports.plots.writer import CHILD_PLOTS, FILES, PLOTTERS, default_jobs, draw_plots, write_plots

__all__ = [
    "CHILD_PLOTS", "DPI", "FILES", "HW_FIELDS", "LEO_FIELDS", "MARKERS", "MAX_NAMED_WINDOWS", "OTHER_MARKERS",
    "PLOTTERS", "ROLE_KINDS", "STYLE", "WIDTH_IN", "_components", "_figure", "_key", "_legend_right", "_load",
    "_save", "_shade", "_time_frame", "default_jobs", "draw_plots", "leader_segments", "plot_latency", "plot_leaders",
    "plot_log_offsets", "plot_partitions", "plot_throughput", "plot_unseen", "write_plots",
]
