"""Static SVG charts for the HTML report: bars over time or categories, lines, and spreads (box plots).

Owns the three chart shapes the report needs and nothing else: no JavaScript, no dependency, colours from CSS
classes so the page's light/dark stylesheet and print stylesheet decide them. Data arrive aggregated (a few
hundred points at most); each mark carries ``data-label``/``data-value`` so tests (and curious readers) can check
the numbers drawn against the log.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from html import escape

__all__ = ["Marker", "bar_chart", "line_chart", "spread_chart", "hbar_chart"]

W, H = 720, 240
PAD_L, PAD_R, PAD_T, PAD_B = 64, 16, 18, 44


@dataclass(frozen=True)
class Marker:
    """A vertical line (``at``) or band (``at``..``until``) on a chart with a time axis, with a label."""

    at: float  # x value (e.g. days since the first point)
    label: str
    until: float | None = None


def _nice_max(v: float) -> float:
    if v <= 0 or not math.isfinite(v):
        return 1.0
    e = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * e:
            return float(m * e)
    return float(10 * e)


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 100 or float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:.3g}"


def _frame(name: str, title: str, ymax: float, unit: str, attrs: str = "") -> list[str]:
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{escape(name)}" width="{W}" '
           f'height="{H}" viewBox="0 0 {W} {H}" role="img"{attrs}>', f"<title>{escape(title)}</title>"]
    for k in range(5):
        v = ymax * k / 4
        y = H - PAD_B - (H - PAD_T - PAD_B) * k / 4
        out.append(f'<line class="grid" x1="{PAD_L}" x2="{W - PAD_R}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(f'<text class="tick" x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(v)}</text>')
    if unit:
        out.append(f'<text class="unit" x="4" y="{PAD_T - 6}">{escape(unit)}</text>')
    return out


def _y(v: float, ymax: float) -> float:
    return H - PAD_B - (H - PAD_T - PAD_B) * (v / ymax)


def _x_labels(labels: list[str], xs: list[float], every: int) -> list[str]:
    return [f'<text class="tick" x="{x:.1f}" y="{H - PAD_B + 16}" text-anchor="middle">{escape(lab)}</text>'
            for i, (lab, x) in enumerate(zip(labels, xs)) if i % every == 0]


def bar_chart(name: str, title: str, labels: list[str], values: list[float], *, unit: str = "",
              markers: list[Marker] | None = None) -> str:
    """Vertical bars, one per label (time buckets or categories), in the given order."""
    ymax = _nice_max(max(values, default=0))
    out = _frame(name, title, ymax, unit, f' data-points="{len(values)}"')
    n = max(len(values), 1)
    step = (W - PAD_L - PAD_R) / n
    bw = max(step * 0.8, 0.6)
    for i, (lab, v) in enumerate(zip(labels, values)):
        x = PAD_L + i * step + (step - bw) / 2
        y = _y(v, ymax)
        out.append(f'<rect class="bar" x="{x:.2f}" y="{y:.2f}" width="{bw:.2f}" height="{H - PAD_B - y:.2f}" '
                   f'data-label="{escape(lab)}" data-value="{v:g}"><title>{escape(lab)}: {_fmt(v)}</title></rect>')
    out += _x_labels(labels, [PAD_L + (i + 0.5) * step for i in range(n)], max(1, math.ceil(n / 8)))
    out += _markers(markers or [], lambda i: PAD_L + (i + 0.5) * step)
    out.append("</svg>")
    return "\n".join(out)


def line_chart(name: str, title: str, labels: list[str], series: dict[str, list[float]], *, unit: str = "",
               markers: list[Marker] | None = None) -> str:
    """One polyline per series over the same labels; NaN breaks a line."""
    finite = [v for s in series.values() for v in s if math.isfinite(v)]
    ymax = _nice_max(max(finite, default=0))
    n = max(len(labels), 1)
    step = (W - PAD_L - PAD_R) / max(n - 1, 1)
    out = _frame(name, title, ymax, unit, f' data-points="{len(labels)}"')
    for k, (sname, vals) in enumerate(series.items()):
        segs: list[list[str]] = [[]]
        for i, v in enumerate(vals):
            if not math.isfinite(v):
                segs.append([])
                continue
            segs[-1].append(f"{PAD_L + i * step:.2f},{_y(v, ymax):.2f}")
        for seg in segs:
            if seg:
                out.append(f'<polyline class="line s{k}" points="{" ".join(seg)}" data-series="{escape(sname)}"/>')
        for i, (lab, v) in enumerate(zip(labels, vals)):
            if math.isfinite(v):
                out.append(f'<circle class="dot s{k}" cx="{PAD_L + i * step:.2f}" cy="{_y(v, ymax):.2f}" r="1.6" '
                           f'data-series="{escape(sname)}" data-label="{escape(lab)}" data-value="{v:g}">'
                           f"<title>{escape(sname)} {escape(lab)}: {_fmt(v)}</title></circle>")
        if len(series) > 1:
            out.append(f'<text class="legend s{k}" x="{W - PAD_R - 150}" y="{PAD_T + 12 + 14 * k}">'
                       f"{escape(sname)}</text>")
    out += _x_labels(labels, [PAD_L + i * step for i in range(n)], max(1, math.ceil(n / 8)))
    out += _markers(markers or [], lambda i: PAD_L + i * step)
    out.append("</svg>")
    return "\n".join(out)


def _markers(markers: list[Marker], x_of: Callable[[float], float]) -> list[str]:
    out = []
    for m in markers:
        x1 = x_of(m.at)
        if m.until is not None:
            x2 = x_of(m.until)
            out.append(f'<rect class="band" x="{min(x1, x2):.1f}" y="{PAD_T}" width="{abs(x2 - x1):.1f}" '
                       f'height="{H - PAD_T - PAD_B}" data-marker="{escape(m.label)}"/>')
        out.append(f'<line class="marker" x1="{x1:.1f}" x2="{x1:.1f}" y1="{PAD_T}" y2="{H - PAD_B}" '
                   f'data-marker="{escape(m.label)}"/>')
        out.append(f'<text class="marker-label" x="{x1 + 3:.1f}" y="{PAD_T + 10}">{escape(m.label)}</text>')
    return out


def hbar_chart(name: str, title: str, labels: list[str], values: list[float], *, unit: str = "",
               fmt: str = "") -> str:
    """Horizontal bars, one row per label (resources, variants), longest label first as given."""
    row = 18
    height = PAD_T + row * max(len(values), 1) + 24
    vmax = _nice_max(max(values, default=0))
    left = 230
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{escape(name)}" width="{W}" '
           f'height="{height}" viewBox="0 0 {W} {height}" role="img" data-points="{len(values)}">',
           f"<title>{escape(title)}</title>"]
    for i, (lab, v) in enumerate(zip(labels, values)):
        y = PAD_T + i * row
        w = (W - left - 90) * (v / vmax)
        shown = format(v, fmt) if fmt else _fmt(v)
        out.append(f'<text class="tick" x="{left - 6}" y="{y + 12}" text-anchor="end">'
                   f"{escape(lab if len(lab) <= 34 else lab[:33] + '…')}</text>")
        out.append(f'<rect class="bar" x="{left}" y="{y + 2}" width="{w:.2f}" height="{row - 5}" '
                   f'data-label="{escape(lab)}" data-value="{v:g}"><title>{escape(lab)}: {shown}</title></rect>')
        out.append(f'<text class="tick" x="{left + w + 4:.1f}" y="{y + 12}">{shown}{escape(unit)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def spread_chart(name: str, title: str, labels: list[str], quantiles: list[tuple[float, float, float, float, float]],
                 *, unit: str = "") -> str:
    """Horizontal box plots on a log scale (processing times span seconds to days): whiskers p10..p90, box
    p25..p75, a tick at the median; one row per label."""
    row = 18
    height = PAD_T + row * max(len(labels), 1) + 30
    vmax = max((q[4] for q in quantiles), default=1.0)
    decades = max(1, math.ceil(math.log10(1 + max(vmax, 1e-9))))
    left, right = 230, W - 30

    def sx(v: float) -> float:
        return left + (right - left) * math.log10(1 + max(v, 0)) / decades

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{escape(name)}" width="{W}" '
           f'height="{height}" viewBox="0 0 {W} {height}" role="img" data-points="{len(labels)}">',
           f"<title>{escape(title)}</title>"]
    for k in range(decades + 1):
        v = 10 ** k - 1 if k else 0
        x = sx(v)
        out.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{PAD_T - 4}" y2="{height - 24}"/>')
        out.append(f'<text class="tick" x="{x:.1f}" y="{height - 10}" text-anchor="middle">'
                   f"{_fmt(10 ** k if k else 0)}{escape(unit)}</text>")
    for i, (lab, (p10, p25, p50, p75, p90)) in enumerate(zip(labels, quantiles)):
        y = PAD_T + i * row + row / 2
        out.append(f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
                   f"{escape(lab if len(lab) <= 34 else lab[:33] + '…')}</text>")
        out.append(f'<g class="box" data-label="{escape(lab)}" data-value="{p50:g}">'
                   f"<title>{escape(lab)}: median {_fmt(p50)}{escape(unit)} (p10 {_fmt(p10)}, p90 {_fmt(p90)})</title>"
                   f'<line class="whisker" x1="{sx(p10):.1f}" x2="{sx(p90):.1f}" y1="{y:.1f}" y2="{y:.1f}"/>'
                   f'<rect class="bar" x="{sx(p25):.1f}" y="{y - 5:.1f}" width="{max(sx(p75) - sx(p25), 1):.1f}" '
                   f'height="10"/><line class="median" x1="{sx(p50):.1f}" x2="{sx(p50):.1f}" y1="{y - 7:.1f}" '
                   f'y2="{y + 7:.1f}"/></g>')
    out.append("</svg>")
    return "\n".join(out)
