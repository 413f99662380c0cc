"""What every plot of the report shares: a section object, and figures rendered to PNG by Agg.

Figures are made with ``matplotlib.figure.Figure`` on an explicit Agg canvas rather than through
pyplot, so writing a report never changes the caller's matplotlib backend, opens no window and
keeps no global figure alive.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 110
# PNG metadata would otherwise carry the matplotlib version: the same verdicts should give
# the same bytes on every machine.
_PNG_METADATA = {"Software": None}

PASS_COLOR = "#1f8a4c"
FAIL_COLOR = "#c0392b"
STABLE_COLOR = "#2c7fb8"
FAST_COLOR = "#e6750f"


@dataclass(frozen=True)
class PlotSection:
    """One plot of the report, or the note that replaces it when the verdicts lack its data.

    key: a stable identifier ("effect_sizes", "attention_entropy", "gate_sweep").
    png: the rendered figure; None when omitted.
    caption: what the plot shows, or why it is omitted.
    notes: caveats (cases left out of the plot, and why).
    summary: markdown lines with the plot's numbers, for the markdown summary.
    table: values better read as a table than drawn (header row first), e.g. a sweep with a single
        value; a section may have a table and no plot.
    """

    key: str
    title: str
    png: bytes | None
    caption: str
    notes: tuple[str, ...] = ()
    summary: tuple[str, ...] = ()
    table: tuple[tuple[str, ...], ...] = ()

    @property
    def omitted(self) -> bool:
        return self.png is None and not self.table

    @property
    def data_uri(self) -> str:
        if self.png is None:
            raise ValueError(f"plot {self.key!r} was omitted: {self.caption}")
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def omitted(key: str, title: str, why: str, notes: tuple[str, ...] = ()) -> PlotSection:
    return PlotSection(key=key, title=title, png=None, caption=why, notes=notes)


def new_figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def png_bytes(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata=_PNG_METADATA)
    return buffer.getvalue()
