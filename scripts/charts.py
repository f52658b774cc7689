#!/usr/bin/env python3
"""Draws the benchmark charts from the Markdown that scripts/bench.sh prints.

    python3 scripts/charts.py RUN.md OUT_DIR

writes OUT_DIR/echo.svg (every echo cell's msgs/s ratio, both adapters
against each peer, with the 1.0x line and the 1.3x target against
tokio-tungstenite) and OUT_DIR/memory.svg (heap and resident bytes per idle
connection above bare TCP, every server, dormant hub members included).
A table the run did not print is skipped with a note on stderr. Plain SVG,
no dependencies beyond Python 3.
"""

import html
import re
import sys
from pathlib import Path

PEER_COLOURS = {
    "tokio/tokio-tungstenite": "#1f77b4",
    "tokio/fastwebsockets": "#ff7f0e",
    "async-std/tokio-tungstenite": "#7fb4dc",
    "async-std/fastwebsockets": "#ffbf86",
}


def tables(markdown):
    """Every table of the document: (heading, header cells, rows)."""
    heading = ""
    found = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif line.startswith("|") and i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            header = cells(line)
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(cells(lines[i]))
                i += 1
            found.append((heading, header, rows))
            continue
        i += 1
    return found


def cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def ratio(text):
    match = re.match(r"([0-9.]+)\s*×", text)
    return float(match.group(1)) if match else None


def size_bytes(text):
    """'1.5 KiB' -> bytes; '-125 B' and '−125 B' are negative."""
    match = re.match(r"([−-]?[0-9.]+)\s*(B|KiB|MiB|GiB)", text.replace("−", "-"))
    if not match:
        return None
    scale = {"B": 1, "KiB": 1024, "MiB": 1 << 20, "GiB": 1 << 30}[match.group(2)]
    return float(match.group(1)) * scale


def svg(width, height, body):
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">\n'
        f'<rect width="{width}" height="{height}" fill="white"/>\n{body}</svg>\n'
    )


def text(x, y, content, anchor="start", size=11, weight="normal", rotate=None):
    transform = f' transform="rotate({rotate} {x} {y})"' if rotate is not None else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'font-weight="{weight}"{transform}>{html.escape(content)}</text>\n'
    )


def echo_chart(header, rows):
    peers = [p for p in PEER_COLOURS if p in header]
    index = {name: header.index(name) for name in peers}
    groups = []
    for row in rows:
        label = f"{row[0]}×{row[1]}×{row[2]}"
        values = [ratio(row[index[p]]) for p in peers]
        groups.append((label, values))
    top = max([v for _, vs in groups for v in vs if v] + [1.5]) * 1.1
    bar, gap, left, plot_h, base = 9, 14, 50, 260, 300
    width = left + len(groups) * (len(peers) * bar + gap) + 20
    height = base + 110
    y = lambda v: base - v / top * plot_h
    out = [text(left, 18, "Echo msgs/s, ours ÷ peer, every cell (conns × size × depth)", weight="bold", size=13)]
    for tick in [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]:
        if tick > top:
            break
        out.append(f'<line x1="{left}" x2="{width - 10}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#ddd"/>\n')
        out.append(text(left - 6, y(tick) + 4, f"{tick:.1f}×", anchor="end"))
    out.append(f'<line x1="{left}" x2="{width - 10}" y1="{y(1.0):.1f}" y2="{y(1.0):.1f}" stroke="black"/>\n')
    out.append(
        f'<line x1="{left}" x2="{width - 10}" y1="{y(1.3):.1f}" y2="{y(1.3):.1f}" '
        f'stroke="#1f77b4" stroke-dasharray="4 3"/>\n'
    )
    out.append(text(width - 12, y(1.3) - 4, "1.3× target vs tokio-tungstenite", anchor="end", size=10))
    x = left + gap / 2
    for label, values in groups:
        for peer, value in zip(peers, values):
            if value is not None:
                out.append(
                    f'<rect x="{x:.1f}" y="{y(value):.1f}" width="{bar - 1}" '
                    f'height="{base - y(value):.1f}" fill="{PEER_COLOURS[peer]}">'
                    f"<title>{html.escape(label)} {html.escape(peer)}: {value:.2f}×</title></rect>\n"
                )
            x += bar
        out.append(text(x - len(peers) * bar / 2, base + 10, label, anchor="end", size=9, rotate=-50))
        x += gap
    legend_y = height - 14
    lx = left
    for peer in peers:
        out.append(f'<rect x="{lx}" y="{legend_y - 9}" width="10" height="10" fill="{PEER_COLOURS[peer]}"/>\n')
        out.append(text(lx + 14, legend_y, peer))
        lx += 14 + 7 * len(peer) + 16
    return svg(width, height, "".join(out))


def memory_chart(idle):
    """Horizontal bars: heap and resident above bare TCP per server."""
    entries = []
    if idle:
        header, rows = idle
        heap_i = header.index("heap above bare TCP")
        rss_i = header.index("resident above bare TCP")
        for row in rows:
            if row[0].startswith("bare TCP"):
                continue
            entries.append((row[0], size_bytes(row[heap_i]), size_bytes(row[rss_i])))
    if not entries:
        return None
    top = max(max(h or 0, r or 0) for _, h, r in entries) * 1.05
    label_w, plot_w, row_h = 330, 420, 26
    width = label_w + plot_w + 90
    height = 60 + row_h * len(entries) + 30
    x = lambda v: label_w + max(v, 0) / top * plot_w
    out = [text(10, 18, "Memory per idle connection above bare TCP", weight="bold", size=13)]
    for i, (name, heap, rss) in enumerate(entries):
        y0 = 40 + i * row_h
        out.append(text(label_w - 8, y0 + 14, name, anchor="end"))
        for k, (value, colour) in enumerate([(heap, "#2ca02c"), (rss, "#98df8a")]):
            if value is None:
                continue
            out.append(
                f'<rect x="{label_w}" y="{y0 + k * 10:.1f}" width="{x(value) - label_w:.1f}" height="9" fill="{colour}">'
                f"<title>{html.escape(name)}: {value / 1024:.1f} KiB</title></rect>\n"
            )
            out.append(text(x(value) + 4, y0 + k * 10 + 8, f"{value / 1024:.1f} KiB", size=9))
    ly = height - 12
    out.append(f'<rect x="{label_w}" y="{ly - 9}" width="10" height="10" fill="#2ca02c"/>\n')
    out.append(text(label_w + 14, ly, "heap"))
    out.append(f'<rect x="{label_w + 60}" y="{ly - 9}" width="10" height="10" fill="#98df8a"/>\n')
    out.append(text(label_w + 74, ly, "resident"))
    return svg(width, height, "".join(out))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    markdown = Path(sys.argv[1]).read_text()
    out_dir = Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    found = tables(markdown)
    echo = next(((h, r) for t, h, r in found if t.startswith("Echo over loopback TCP")), None)
    if echo:
        (out_dir / "echo.svg").write_text(echo_chart(*echo))
        print(f"charts: {out_dir / 'echo.svg'}", file=sys.stderr)
    else:
        print("charts: no echo table in the run; echo.svg not drawn", file=sys.stderr)
    idle = next(((h, r) for t, h, r in found if t.startswith("Idle connection memory over loopback TCP")), None)
    chart = memory_chart(idle)
    if chart:
        (out_dir / "memory.svg").write_text(chart)
        print(f"charts: {out_dir / 'memory.svg'}", file=sys.stderr)
    else:
        print("charts: no idle memory table in the run; memory.svg not drawn", file=sys.stderr)


if __name__ == "__main__":
    main()
