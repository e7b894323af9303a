#!/usr/bin/env python3
"""Draw a Numbat node's frames as an SVG picture, from the kernel's dump.

The kernel monitor's `dump` command (docs/monitor.md) prints every frame of
a node, grouped into runs of one state, one line per run, and one line per
free block with its order:

    dump: begin node 0 [0x80000, 0x88000) frames 32768 format 3
    dump: zone 20 [0x80000, 0x88000)
    dump: run [0x80000, 0x80080) uninit owner opensbi
    dump: free [0x80080, 0x80100) order 7
    dump: end node 0 runs 35

An uninitialised run also names its owner: who holds its frames since
boot (OpenSBI, the kernel image, the dtb, the initrd, the frame table, a
boot allocation). Format 1 (older kernels) wrote `reserved` instead; it
is read as uninitialised frames of an unknown reserved owner. Format 3
tells the offline states apart (offlining, offlined, broken); format 2
wrote `offline` for all three, drawn as offlined.

This tool reads any console text that holds such lines (a saved boot log,
or `-` for standard input; other lines are ignored), and writes one SVG per
dump into OUTDIR. The picture reads like a page of memory: frames run left
to right, then row by row, a power-of-two number of frames per row (so an
aligned buddy block never straddles a row unless it is larger than a row).
Each run is one rectangle, coloured by state, and uninitialised runs by
owner in shades of grey and blue (a run longer than the rest of its row
continues on the next rows, as one more rectangle per row);
free blocks are outlined and labelled with their order; zone starts are
red dashed lines; the legend counts the frames of each state.

    tools/memmap.py boot.log -o pictures/
    build/... | tools/memmap.py - -o pictures/

Exit status 0 when every dump was drawn; 1 with a one-line message naming
the problem (no dump in the input, a dump cut off before its end line, a
run outside its node or out of order).

Python standard library only.
"""

import argparse
import os
import re
import sys
from xml.sax.saxutils import escape

# The states of the dump format, in legend order, with their colours.
STATES = {
    'free': ('#a5d6a7', 'free (on a buddy free list)'),
    'inuse': ('#e53935', 'in use (allocated from the heap)'),
    'uninit': ('#9e9e9e', 'uninitialised (never in the heap), by owner below'),
    'offlining': ('#8e24aa', 'offlining (in use, leaves when freed)'),
    'offlined': ('#212121', 'offlined (out of service; MFN 0)'),
    'broken': ('#b71c1c', 'broken (bad RAM, out for good)'),
    'hole': ('#ffffff', 'hole (not RAM of this node)'),
    'meta': ('#ffb300', "node metadata (the node heap's lists)"),
}
# The owners of uninitialised runs (kernel/dump.h), with their colours.
OWNERS = {
    'opensbi': ('#1a237e', 'OpenSBI (firmware)'),
    'kernel': ('#3949ab', 'kernel image'),
    'dtb': ('#7986cb', 'device tree blob'),
    'initrd': ('#00838f', 'initrd'),
    'frametable': ('#616161', 'frame table (boot allocation)'),
    'bootalloc': ('#9e9e9e', 'other boot allocation'),
    'resvmem': ('#5c6bc0', 'other /reserved-memory'),
    'memreserve': ('#5c6bc0', '/memreserve/ block'),
    'preserved': ('#00695c', 'kept over a live update'),
    'reserved': ('#3949ab', 'reserved (format 1: owner not named)'),
}
FREE_OUTLINE = '#1b5e20'        # the outline of a free block
ZONE_COLOUR = '#d50000'         # zone boundary lines

ROW_PX = 1024                   # width of a row of frames
ROW_H = 16                      # height of a row
ROW_GAP = 4                     # space between rows
MAX_ROWS = 48                   # rows per picture, at most
LEFT = 96                       # room for the row labels
TOP = 64                        # room for the title
RIGHT = 24

LINE_RE = re.compile(
    r'dump: (?:'
    r'begin node (?P<bnode>\d+) \[0x(?P<bs>[0-9a-f]+), 0x(?P<be>[0-9a-f]+)\) '
    r'frames (?P<frames>\d+) format (?P<format>\d+)'
    r'|zone (?P<zone>\d+) \[0x(?P<zs>[0-9a-f]+), 0x(?P<ze>[0-9a-f]+)\)'
    r'|run \[0x(?P<rs>[0-9a-f]+), 0x(?P<re>[0-9a-f]+)\) (?P<state>[a-z]+)'
    r'(?: owner (?P<owner>[a-z]+))?'
    r'|free \[0x(?P<fs>[0-9a-f]+), 0x(?P<fe>[0-9a-f]+)\) order (?P<order>\d+)'
    r'|end node (?P<enode>\d+) runs (?P<runs>\d+))')


class DumpError(Exception):
    """A dump that cannot be drawn; the message names the line and why."""


class Dump:
    """One `dump: begin` .. `dump: end` block of one node."""

    def __init__(self, node, start, end, line_no):
        self.node = node
        self.start = start          # first frame of the node's span
        self.end = end              # one past its last frame
        self.line_no = line_no      # where `begin` was, for messages
        self.zones = []             # (zone, start, end)
        self.runs = []              # (start, end, state, order or None)
        self.owners = {}            # start of an uninit run -> its owner
        self.complete = False       # the `end` line was seen and agreed

    def frames_in(self, state):
        return sum(e - s for s, e, st, _ in self.runs if st == state)

    def frames_owned(self, owner):
        return sum(e - s for s, e, st, _ in self.runs
                   if st == 'uninit' and self.owners.get(s) == owner)


def _add_run(dump, s, e, state, order, line_no, owner=None):
    if state == 'reserved' and owner is None:     # format 1
        state, owner = 'uninit', 'reserved'
    if state == 'offline':                        # format 2: drawn as offlined
        state = 'offlined'
    if state not in STATES:
        raise DumpError(f'line {line_no}: unknown state {state!r} '
                        f'(known: {", ".join(STATES)})')
    if owner is not None and state != 'uninit':
        raise DumpError(f'line {line_no}: only an uninit run names an owner')
    if owner is not None and owner not in OWNERS:
        raise DumpError(f'line {line_no}: unknown owner {owner!r} '
                        f'(known: {", ".join(OWNERS)})')
    if owner is not None:
        dump.owners[s] = owner
    expect = dump.runs[-1][1] if dump.runs else dump.start
    if s != expect or not s < e <= dump.end:
        raise DumpError(f'line {line_no}: run [{s:#x}, {e:#x}) does not follow '
                        f'{expect:#x} inside node {dump.node} '
                        f'[{dump.start:#x}, {dump.end:#x})')
    dump.runs.append((s, e, state, order))


def _finish(dump, node, runs, line_no):
    if node != dump.node or runs != len(dump.runs):
        raise DumpError(f'line {line_no}: end of node {node} with {runs} runs, '
                        f'but node {dump.node} has {len(dump.runs)}')
    last = dump.runs[-1][1] if dump.runs else dump.start
    if last != dump.end:
        raise DumpError(f'line {line_no}: node {dump.node} runs stop at '
                        f'{last:#x}, before its end {dump.end:#x}')
    dump.complete = True


def parse(text):
    """Every dump in `text`, in order. Lines without `dump:` are noise.
    Raises DumpError for a dump line that breaks the format."""
    dumps, cur = [], None
    for line_no, line in enumerate(text.splitlines(), 1):
        m = LINE_RE.search(line)
        if not m:
            continue
        g = m.groupdict()
        if g['bnode'] is not None:
            if cur and not cur.complete:
                raise DumpError(f'line {line_no}: a new dump begins before node '
                                f'{cur.node} (line {cur.line_no}) ended')
            cur = Dump(int(g['bnode']), int(g['bs'], 16), int(g['be'], 16), line_no)
            dumps.append(cur)
        elif cur is None or cur.complete:
            raise DumpError(f'line {line_no}: a dump line outside a begin..end '
                            f'block: {line.strip()!r}')
        elif g['zone'] is not None:
            cur.zones.append((int(g['zone']), int(g['zs'], 16), int(g['ze'], 16)))
        elif g['rs'] is not None:
            _add_run(cur, int(g['rs'], 16), int(g['re'], 16), g['state'], None, line_no,
                     g['owner'])
        elif g['fs'] is not None:
            _add_run(cur, int(g['fs'], 16), int(g['fe'], 16), 'free',
                     int(g['order']), line_no)
        else:
            _finish(cur, int(g['enode']), int(g['runs']), line_no)
    if cur and not cur.complete:
        raise DumpError(f'node {cur.node}: the dump that begins on line '
                        f'{cur.line_no} has no `dump: end` line (cut off?)')
    return dumps


# --- drawing ----------------------------------------------------------------------------

def frames_per_row(frames):
    """A power of two, so that the node fits in MAX_ROWS rows."""
    n = 64
    while n * MAX_ROWS < frames:
        n *= 2
    return n


class Page:
    """Where frame f of a dump lands on the picture."""

    def __init__(self, dump):
        self.dump = dump
        self.per_row = frames_per_row(dump.end - dump.start)
        self.base = dump.start - dump.start % self.per_row   # rows start aligned
        self.rows = -(-(dump.end - self.base) // self.per_row)
        self.px = ROW_PX / self.per_row                       # pixels per frame

    def xy(self, f):
        row, col = divmod(f - self.base, self.per_row)
        return LEFT + col * self.px, TOP + row * (ROW_H + ROW_GAP)

    def pieces(self, s, e):
        """(x, y, width) of the row pieces that frames [s, e) cover."""
        while s < e:
            row_end = s - (s - self.base) % self.per_row + self.per_row
            piece_end = min(e, row_end)
            x, y = self.xy(s)
            yield x, y, (piece_end - s) * self.px
            s = piece_end

    @property
    def height(self):
        return TOP + self.rows * (ROW_H + ROW_GAP)


def _big_block(page, s, e, order):
    """A free block of whole rows: one filled, outlined box behind its row
    pieces, so that it reads as one block, and a label for its middle.
    Returns (box, label): the label goes on top of the pieces."""
    x, y = page.xy(s)
    rows = (e - s) // page.per_row
    h = rows * (ROW_H + ROW_GAP) - ROW_GAP
    return [f'<rect class="block" x="{x:.2f}" y="{y}" width="{ROW_PX}" height="{h}" '
            f'fill="{STATES["free"][0]}" stroke="{FREE_OUTLINE}" stroke-width="1.5"/>'], [
            f'<text x="{x + ROW_PX / 2:.1f}" y="{y + h / 2 + 5:.1f}" font-size="13" '
            f'text-anchor="middle" fill="{FREE_OUTLINE}">order {order} '
            f'({e - s} frames, {rows} rows)</text>']


def _rects(page):
    """One rect per run (more only where a run wraps to the next row)."""
    back, out, labels = [], [], []
    for i, (s, e, state, order) in enumerate(page.dump.runs):
        owner = page.dump.owners.get(s) if state == 'uninit' else None
        fill = OWNERS[owner][0] if owner else STATES[state][0]
        title = (f'[{s:#x}, {e:#x}) {state}' + (f' order {order}' if order is not None else '')
                 + (f', held by {OWNERS[owner][1]}' if owner else ''))
        big = order is not None and e - s > page.per_row
        if big:
            box, label = _big_block(page, s, e, order)
            back += box
            labels += label
        for x, y, w in page.pieces(s, e):
            stroke = (f' stroke="{FREE_OUTLINE}" stroke-width="0.8"'
                      if state == 'free' and not big else '')
            kind = f'{state} {owner}' if owner else state
            out.append(f'<rect class="run {kind}" data-run="{i}" x="{x:.2f}" '
                       f'y="{y}" width="{w:.2f}" height="{ROW_H}" fill="{fill}"'
                       f'{stroke}><title>{escape(title)}</title></rect>')
            if order is not None and not big and w >= 14:
                out.append(f'<text x="{x + w / 2:.1f}" y="{y + ROW_H - 4}" '
                           f'font-size="10" text-anchor="middle" '
                           f'fill="{FREE_OUTLINE}">{order}</text>')
    return back + out + labels


def _row_labels(page):
    out = []
    for r in range(page.rows):
        f = page.base + r * page.per_row
        out.append(f'<text x="{LEFT - 6}" y="{TOP + r * (ROW_H + ROW_GAP) + ROW_H - 4}" '
                   f'font-size="11" text-anchor="end" font-family="monospace">'
                   f'{f:#x}</text>')
    return out


def _zones(page):
    out = []
    for zone, s, e in page.dump.zones:
        x, y = page.xy(s)
        out.append(f'<line class="zone" x1="{x:.2f}" y1="{y - 3}" x2="{x:.2f}" '
                   f'y2="{y + ROW_H + 3}" stroke="{ZONE_COLOUR}" stroke-width="2" '
                   f'stroke-dasharray="3,2"/>')
        out.append(f'<text x="{x + 3:.2f}" y="{y - 4}" font-size="10" '
                   f'fill="{ZONE_COLOUR}">zone {zone} [{s:#x}, {e:#x})</text>')
    return out


def _node_box(page):
    d = page.dump
    (x0, y0), (x1, y1) = page.xy(d.start), page.xy(d.end - 1)
    top, bottom = y0 - 12, y1 + ROW_H + 3
    return [f'<rect class="node" x="{LEFT - 3}" y="{top}" width="{ROW_PX + 6}" '
            f'height="{bottom - top}" fill="none" stroke="#000" stroke-width="1.5"/>']


def _legend(page, y):
    out = [f'<text x="{LEFT}" y="{y}" font-size="13" font-weight="bold">Legend '
           f'(frames of each state)</text>']
    # The states, then the owners of uninitialised frames that this dump has.
    entries = [(state, fill, text, page.dump.frames_in(state))
               for state, (fill, text) in STATES.items()]
    entries += [(f'uninit {owner}', fill, f'uninitialised, held by {text}',
                 page.dump.frames_owned(owner))
                for owner, (fill, text) in OWNERS.items() if page.dump.frames_owned(owner)]
    rows = -(-len(entries) // 2)
    for i, (kind, fill, text, frames) in enumerate(entries):
        col, row = divmod(i, rows)
        x, yy = LEFT + col * 520, y + 12 + row * 22
        stroke = FREE_OUTLINE if kind == 'free' else '#000'
        out.append(f'<rect class="legend {kind}" x="{x}" y="{yy}" width="28" '
                   f'height="14" fill="{fill}" stroke="{stroke}" stroke-width="0.8"/>')
        out.append(f'<text x="{x + 36}" y="{yy + 12}" font-size="12">'
                   f'{escape(text)}: {frames}</text>')
    notes = (f'One row = {page.per_row} frames ({page.px:g} px per frame). '
             'Free blocks are outlined in green, with their order; '
             'red dashed lines mark zone starts.')
    out.append(f'<text x="{LEFT}" y="{y + 12 + rows * 22 + 8}" font-size="12">'
               f'{escape(notes)}</text>')
    return out, y + 12 + rows * 22 + 20


def render(dump):
    """The SVG text for one dump."""
    page = Page(dump)
    d = dump
    mib = (d.end - d.start) * 4096 / (1 << 20)
    title = (f'Numbat node {d.node}: frames [{d.start:#x}, {d.end:#x}), '
             f'{d.end - d.start} frames ({mib:g} MiB)')
    body = [f'<text x="{LEFT}" y="28" font-size="18" font-weight="bold">'
            f'{escape(title)}</text>']
    body += _node_box(page) + _rects(page) + _zones(page) + _row_labels(page)
    legend, height = _legend(page, page.height + 20)
    body += legend
    width = LEFT + ROW_PX + RIGHT
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" '
            f'font-family="sans-serif">')
    return '\n'.join([head, f'<title>{escape(title)}</title>',
                      f'<rect width="{width}" height="{height}" fill="#fff"/>']
                     + body + ['</svg>', ''])


def output_names(dumps):
    """node0.svg, ...; a node dumped more than once: node0-1.svg, node0-2.svg."""
    total = {}
    for d in dumps:
        total[d.node] = total.get(d.node, 0) + 1
    seen, names = {}, []
    for d in dumps:
        seen[d.node] = seen.get(d.node, 0) + 1
        names.append(f'node{d.node}.svg' if total[d.node] == 1
                     else f'node{d.node}-{seen[d.node]}.svg')
    return names


def main(argv=None):
    p = argparse.ArgumentParser(description='Draw the kernel monitor\'s `dump` '
                                'output as one SVG per node.')
    p.add_argument('dumpfile', help='console text holding `dump:` lines, or - for stdin')
    p.add_argument('-o', '--outdir', required=True, help='folder for the SVG files')
    a = p.parse_args(argv)
    try:
        if a.dumpfile == '-':
            text = sys.stdin.read()
        else:
            with open(a.dumpfile, encoding='utf-8', errors='replace') as f:
                text = f.read()
    except OSError as e:
        print(f'memmap: cannot read {a.dumpfile}: {e.strerror}', file=sys.stderr)
        return 1
    try:
        dumps = parse(text)
    except DumpError as e:
        print(f'memmap: {a.dumpfile}: {e}', file=sys.stderr)
        return 1
    if not dumps:
        print(f'memmap: {a.dumpfile}: no `dump: begin` line; boot with '
              'monitor="dump; halt" (or type `dump` at the monitor)', file=sys.stderr)
        return 1
    os.makedirs(a.outdir, exist_ok=True)
    for d, name in zip(dumps, output_names(dumps)):
        path = os.path.join(a.outdir, name)
        with open(path, 'w', encoding='utf-8') as f:
            f.write(render(d))
        print(f'memmap: node {d.node}: {len(d.runs)} runs -> {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
