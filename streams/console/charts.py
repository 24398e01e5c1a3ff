"""Server-drawn SVG: a cluster's cities over time (no JavaScript, no tile server; no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

from markupsafe import Markup, escape

WIDTH, ROW, LEFT, TOP, BOTTOM, RIGHT = 760, 26, 130, 16, 34, 20


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def city_timeline_svg(timeline: list[dict]) -> Markup:
    """One row per city (in order of first appearance), one dot per ad at its posting time, a
    line joining the ads in time order (the circuit), dates on the axis."""
    points = sorted((t for t in timeline if t.get("posted_ts") is not None),
                    key=lambda t: (t["posted_ts"], t.get("ad_id") or ""))
    if not points:
        return Markup('<p class="muted">No posting times to draw.</p>')
    cities: list[str] = []
    for p in points:
        city = p.get("city") or "(no city)"
        if city not in cities:
            cities.append(city)
    first, last = points[0]["posted_ts"], points[-1]["posted_ts"]
    span = max(last - first, 1.0)
    height = TOP + ROW * len(cities) + BOTTOM
    inner = WIDTH - LEFT - RIGHT

    def x(ts: float) -> float:
        return LEFT + (ts - first) / span * inner

    def y(city: str) -> float:
        return TOP + ROW * cities.index(city) + ROW / 2

    parts = [f'<svg class="timeline" role="img" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>Cities over time: {len(points)} ads in {len(cities)} '
             f'cities, {_day(first)} to {_day(last)}</title>']
    for city in cities:
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(city):.1f}" y2="{y(city):.1f}" class="grid"/>'
                     f'<text x="{LEFT - 8}" y="{y(city) + 4:.1f}" text-anchor="end" class="city">'
                     f'{escape(city)}</text>')
    path = " ".join(f"{x(p['posted_ts']):.1f},{y(p.get('city') or '(no city)'):.1f}" for p in points)
    parts.append(f'<polyline points="{path}" class="route"/>')
    for p in points:
        city = p.get("city") or "(no city)"
        parts.append(f'<circle cx="{x(p["posted_ts"]):.1f}" cy="{y(city):.1f}" r="4" class="ad">'
                     f'<title>{escape(p.get("ad_id") or "")} · {escape(city)} · {_day(p["posted_ts"])}</title>'
                     f'</circle>')
    axis_y = TOP + ROW * len(cities) + 14
    ticks = 5 if last > first else 1
    for k in range(ticks):
        ts = first + span * k / max(ticks - 1, 1)
        anchor = "start" if k == 0 else "end" if k == ticks - 1 else "middle"
        parts.append(f'<text x="{x(ts):.1f}" y="{axis_y}" text-anchor="{anchor}" class="tick">{_day(ts)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
