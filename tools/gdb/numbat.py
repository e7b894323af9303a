"""gdb commands that show Numbat's memory manager, read straight from memory.

tools/gdbinit loads this file, so `ninja gdb` has these commands:

    numbat-page MFN                 one frame's page_info, decoded, and who
                                    reserved it at boot
    numbat-heap                     free pages and blocks per node, zone, order
    numbat-buddy NODE ZONE ORDER    walk one free list, block by block
    numbat-mem                      the memory map from the kernel's struct machine

They print the same lines as the kernel monitor's `page`, `heap`, `buddy`
and `mem` (docs/monitor.md), so what you see in gdb and at the console
can be compared line by line - tests/gdb/test_gdb_helpers.py does exactly
that. The difference: the monitor asks the running kernel, these read
memory while the kernel is stopped, at any breakpoint, with no kernel code
run. That is what you want when the kernel is stuck or half way through
init_heap_pages().

How they read: every structure is found through the kernel's symbols and
types (gdb.parse_and_eval, gdb.lookup_type), so a field that moves in
struct page_info moves here too. Only the bit layout of count_info is
written down below, because C macros do not reach the debug information;
it must agree with mm/page.h (the gdb test catches a disagreement).

Before boot has built a structure, a command says so instead of printing
garbage: no frame table before mm_boot_init(), no heap before the first
node heap exists (end_boot_allocator()), no machine before the device
tree was read.
"""

import gdb

# count_info's layout: see the picture in mm/page.h.
PGC_STATE_SHIFT = 61
PGC_STATE_MASK = 7 << PGC_STATE_SHIFT
PGC_COUNT_MASK = 0xffffffff
PGC_FLAGS_MASK = 0xff << 32
PAGE_STATES = ['uninitialised', 'inuse', 'free', 'offlining', 'offlined', 'broken']
PAGE_STATE_FREE = 2
PGC_FLAGS = [(1 << 32, 'extra'), (1 << 33, 'node_meta'), (1 << 34, 'hole'),
             (1 << 35, 'checked'), (1 << 36, 'offline_asked'), (1 << 37, 'broken'),
             (1 << 38, 'need_scrub')]
PAGE_SHIFT = 12
# Who reserved a frame at boot, as kernel/dump.c names it: (word, phrase).
OWNERS = {
    'none': 'nobody (a heap frame)',
    'opensbi': "OpenSBI, the firmware's /reserved-memory",
    'resvmem': 'a /reserved-memory range of the tree',
    'memreserve': "the blob's /memreserve/ block",
    'kernel': 'the kernel image',
    'dtb': 'the device tree blob',
    'initrd': 'the initrd',
    'frametable': 'the frame table, a boot allocation',
    'bootalloc': 'a boot allocation',
}
RESERVE_OWNERS = {'RESERVE_MEMRESERVE': 'memreserve', 'RESERVE_KERNEL': 'kernel',
                  'RESERVE_DTB': 'dtb', 'RESERVE_INITRD': 'initrd'}
RESERVE_KIND_NAMES = {'RESERVE_MEMRESERVE': 'memreserve',
                      'RESERVE_NODE': 'reserved-memory',
                      'RESERVE_KERNEL': 'kernel', 'RESERVE_DTB': 'dtb',
                      'RESERVE_INITRD': 'initrd'}


# --- reading the kernel ---------------------------------------------------------------------

def static_var(name):
    """A file-static variable of the kernel (node_heaps, machine)."""
    sym = gdb.lookup_static_symbol(name)
    if sym is None:
        raise gdb.GdbError(f'numbat: no symbol {name} in the loaded kernel; is '
                           'numbat.elf loaded (gdb BUILD/numbat.elf)?')
    return sym.value()


class FrameTable:
    """The frame table in sections (mm/frametable.h): frametable[i] points
    at the entries of section i (the read-only zero section while it is not
    ready), and the runs map an entry's address back to its frame."""

    def __init__(self, first, end):
        self.first, self.end = first, end
        self.sections = gdb.parse_and_eval('frametable')
        self.size = gdb.lookup_type('struct page_info').sizeof
        zero = gdb.parse_and_eval('frametable_zero_section')
        self.section_pages = zero.type.sizeof // self.size
        runs = gdb.parse_and_eval('frametable_runs')
        self.runs = [(int(runs[i]['base']), int(runs[i]['first']), int(runs[i]['end']))
                     for i in range(int(gdb.parse_and_eval('frametable_nr_runs')))]

    def entry(self, mfn):
        """mfn_to_page(mfn), as a gdb value of struct page_info."""
        i = mfn - self.first
        return (self.sections[i // self.section_pages] + i % self.section_pages).dereference()

    def mfn_of(self, addr):
        """page_to_mfn() of an entry's address; None if it is in no run."""
        for base, first, end in self.runs:
            if base <= addr < base + (end - first) * self.size:
                return first + (addr - base) // self.size
        return None


def frame_table():
    """(first, end, FrameTable) or a clear error before mm_boot_init()."""
    first = int(gdb.parse_and_eval('frametable_first_mfn'))
    end = int(gdb.parse_and_eval('frametable_end_mfn'))
    if end <= first:
        raise gdb.GdbError('numbat: the frame table does not exist yet '
                           '(mm_boot_init() has not run); break later, e.g. '
                           'at monitor_run')
    return first, end, FrameTable(first, end)


def frametable_holds(mfn):
    """Is mfn one of the frame table's own frames (frametable_holds_frame)?"""
    parts = gdb.parse_and_eval("'frametable.c'::parts")
    n = int(gdb.parse_and_eval("'frametable.c'::nr_parts"))
    return any(int(parts[i]['mfn']) <= mfn < int(parts[i]['mfn']) + int(parts[i]['nr'])
               for i in range(n))


def frame_owner(mfn, ci):
    """Who reserved frame mfn at boot (kernel/dump.c's dump_frame_owner)."""
    m = static_var('machine')
    pa = mfn << PAGE_SHIFT
    for i in range(int(m['nr_reserved'])):
        r = m['reserved'][i]
        base, size = int(r['base']), int(r['size'])
        if pa < base + size and pa + (1 << PAGE_SHIFT) > base:
            kind = str(r['kind'])
            if kind in RESERVE_OWNERS:
                return RESERVE_OWNERS[kind]
            return 'opensbi' if r['name'].string().startswith('mmode_resv') else 'resvmem'
    if frametable_holds(mfn):
        return 'frametable'
    state = (ci & PGC_STATE_MASK) >> PGC_STATE_SHIFT
    if state == 0 and not ci & (1 << 34):          # uninitialised, not a hole
        return 'bootmem' if in_boot_allocator(mfn) else 'bootalloc'
    return 'none'


def in_boot_allocator(mfn):
    """Is mfn in one of the boot allocator's free ranges (mm/bootmem.c)? An
    uninitialised frame there has not been handed to the heap yet: before
    or during end_boot_allocator(). False when the ranges cannot be read."""
    try:
        ranges = gdb.parse_and_eval("'bootmem.c'::ranges")
        n = int(gdb.parse_and_eval("'bootmem.c'::nr_ranges"))
    except gdb.error:
        return False
    return any(int(ranges[i]['s']) <= mfn < int(ranges[i]['e']) for i in range(n))


def reserved_by_line(mfn, ci):
    """The monitor's `page:   reserved by ...` line (kernel/monitor_heap.c)."""
    owner = frame_owner(mfn, ci)
    if owner == 'none':
        return 'page:   reserved by nobody: a heap frame since boot'
    if owner == 'bootmem':      # only in gdb: the monitor runs after boot
        return ('page:   reserved by nobody yet: the boot allocator still has it '
                '(end_boot_allocator() has not handed it to the heap yet)')
    state = (ci & PGC_STATE_MASK) >> PGC_STATE_SHIFT
    held = 'uninitialised, still held' if state == 0 else 'since given to the heap'
    return f'page:   reserved by {owner}: {OWNERS[owner]}; {held}'


def zone_of(mfn):
    """The zone of a frame: the bit width of its MFN (mm/heap.h)."""
    return mfn.bit_length()


def node_heaps():
    """{node: struct node_heap value} for every node whose heap exists, or a
    clear error while none does."""
    heaps = static_var('node_heaps')
    lo, hi = heaps.type.range()
    found = {n: heaps[n].dereference() for n in range(lo, hi + 1) if int(heaps[n]) != 0}
    if not found:
        raise gdb.GdbError('numbat: the heap does not exist yet (no node heap has '
                           'been created: end_boot_allocator() has not run)')
    return found


def list_dims():
    """(NR_ZONES, MAX_ORDER + 1), from the type of node_heap.free_lists."""
    t = gdb.lookup_type('struct node_heap')['free_lists'].type
    zones = t.range()[1] + 1
    orders = t.target().range()[1] + 1
    return zones, orders


def walk_list(nh, zone, order, first, table):
    """The first frames of the blocks on one free list, in list order."""
    limit = 1 << 32
    pg = nh['free_lists'][zone][order]
    while int(pg) != 0 and limit:
        yield table.mfn_of(int(pg))
        pg = pg['next']
        limit -= 1


def parse_number(text, what, command):
    try:
        return int(text, 0)
    except ValueError:
        raise gdb.GdbError(f'{command}: bad {what} {text!r}: not a number '
                           '(decimal, or hex with 0x)')


def format_size(nbytes):
    """The kernel's format_size() (kernel/printk.c), for equal lines."""
    if nbytes >= 1 << 30 and nbytes % (1 << 30) == 0:
        return f'{nbytes >> 30} GiB'
    if nbytes >= 1 << 20:
        return f'{nbytes >> 20} MiB'
    if nbytes >= 1 << 10:
        return f'{nbytes >> 10} KiB'
    return f'{nbytes} bytes'


def offline_line(node):
    """The monitor's offline counts of one node (mm/offline.c's counters)."""
    c = gdb.parse_and_eval('offline_node_counts')[node]
    return (f'heap: node {node}: {int(c["offlined"])} offlined, {int(c["broken"])} broken, '
            f'{int(c["offlining"]) + int(c["asked"])} on their way out')


# --- the commands -----------------------------------------------------------------------------

class NumbatPage(gdb.Command):
    """numbat-page MFN: decode frame MFN's struct page_info (state, flags,
    order, node, owner, reference count), like the monitor's `page`."""

    def __init__(self):
        super().__init__('numbat-page', gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        words = gdb.string_to_argv(arg)
        if len(words) != 1:
            raise gdb.GdbError('numbat-page: usage: numbat-page MFN')
        mfn = parse_number(words[0], 'MFN', 'numbat-page')
        first, end, table = frame_table()
        if not first <= mfn < end:
            raise gdb.GdbError(f'numbat-page: MFN {mfn:#x} is outside the frame '
                               f'table [{first:#x}, {end:#x})')
        pg = table.entry(mfn)
        ci = int(pg['count_info']) & (2 ** 64 - 1)
        state = (ci & PGC_STATE_MASK) >> PGC_STATE_SHIFT
        name = PAGE_STATES[state] if state < len(PAGE_STATES) else 'state?'
        flags = [n for bit, n in PGC_FLAGS if ci & bit]
        print(f'page: MFN {mfn:#x} (physical {mfn << PAGE_SHIFT:#x}): state {name}, '
              f'zone {zone_of(mfn)}')
        print('page:   flags ' + (' '.join(flags) if ci & PGC_FLAGS_MASK else 'none'))
        print(reserved_by_line(mfn, ci))
        note = '' if state == PAGE_STATE_FREE else ' (meaningful when free)'
        print(f'page:   order {int(pg["order"])}{note}, node {int(pg["node"])}, '
              f'owner {int(pg["owner"])}, count {ci & PGC_COUNT_MASK}, '
              f'inits {int(pg["nr_inits"])}')
        print(f'page:   count_info {ci:#018x}')


class NumbatHeap(gdb.Command):
    """numbat-heap: free pages per node and zone (the heap's counters) and
    free blocks per order (counted by walking the lists), like the
    monitor's `heap`."""

    def __init__(self):
        super().__init__('numbat-heap', gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        if arg.strip():
            raise gdb.GdbError('numbat-heap: takes no arguments')
        first, _, table = frame_table()
        zones, orders = list_dims()
        total = 0
        for node, nh in sorted(node_heaps().items()):
            print(f'heap: node {node}: {int(nh["total_free"])} pages free')
            dirty = int(gdb.parse_and_eval("'scrub.c'::scrub_nodes")[node]['dirty'])
            print(f'heap: node {node}: {dirty} of them dirty (need a scrub)')
            print(offline_line(node))
            total += int(nh['total_free'])
            for zone in range(zones):
                pages = int(nh['free_pages'][zone])
                if not pages:
                    continue
                print(f'heap: node {node} zone {zone}: {pages} pages free '
                      f'({format_size(pages << PAGE_SHIFT)})')
                for order in range(orders):
                    n = sum(1 for _ in walk_list(nh, zone, order, first, table))
                    if n:
                        print(f'heap: node {node} zone {zone} order {order}: {n} blocks')
        print(f'heap: total {total} pages free')


class NumbatBuddy(gdb.Command):
    """numbat-buddy NODE ZONE ORDER: walk the free list of one node, zone and
    order, printing each block as [first, end), like the monitor's `buddy`."""

    def __init__(self):
        super().__init__('numbat-buddy', gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        words = gdb.string_to_argv(arg)
        if len(words) != 3:
            raise gdb.GdbError('numbat-buddy: usage: numbat-buddy NODE ZONE ORDER')
        node, zone, order = (parse_number(w, what, 'numbat-buddy')
                             for w, what in zip(words, ('node', 'zone', 'order')))
        first, _, table = frame_table()
        heaps = node_heaps()
        zones, orders = list_dims()
        if node not in heaps:
            raise gdb.GdbError(f'numbat-buddy: node {node} has no heap '
                               f'(nodes with one: {sorted(heaps)})')
        if not (0 <= zone < zones and 0 <= order < orders):
            raise gdb.GdbError(f'numbat-buddy: zone must be below {zones} and '
                               f'order at most {orders - 1}')
        n = 0
        for mfn in walk_list(heaps[node], zone, order, first, table):
            print(f'buddy: {n}: [{mfn:#x}, {mfn + (1 << order):#x}) order {order}')
            n += 1
        print(f'buddy: node {node} zone {zone} order {order}: {n} blocks')


class NumbatMem(gdb.Command):
    """numbat-mem: the memory map the kernel read from the device tree
    (struct machine in kernel/board.c): per node its RAM banks and the
    reserved ranges, like the monitor's `mem`."""

    def __init__(self):
        super().__init__('numbat-mem', gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        m = static_var('machine')
        if int(m['nr_banks']) == 0:
            raise gdb.GdbError('numbat-mem: the machine has not been read from the '
                               'device tree yet (board_read_tree() has not run)')
        banks = [m['banks'][i] for i in range(int(m['nr_banks']))]
        heaps = static_var('node_heaps')
        resv = [m['reserved'][i] for i in range(int(m['nr_reserved']))]
        for node in range(int(m['nr_nodes'])):
            mine = [b for b in banks if int(b['node']) == node]
            ram = sum(int(b['size']) for b in mine)
            free = int(heaps[node]['total_free']) if int(heaps[node]) else 0
            print(f'mem: node {node}: {format_size(ram)} RAM, '
                  f'{format_size(free << PAGE_SHIFT)} free in the heap')
            for b in mine:
                base, size = int(b['base']), int(b['size'])
                print(f'  bank     [{base:#x}, {base + size:#x}) {format_size(size)}, '
                      f'frames [{base >> PAGE_SHIFT:#x}, {(base + size) >> PAGE_SHIFT:#x})')
            for r in resv:
                base, size = int(r['base']), int(r['size'])
                if not any(int(b['base']) <= base < int(b['base']) + int(b['size'])
                           for b in mine):
                    continue
                kind = RESERVE_KIND_NAMES.get(str(r['kind']), str(r['kind']))
                name = r['name'].string()
                print(f'  reserved [{base:#x}, {base + size:#x}) {format_size(size)} '
                      f'{kind}{" " + name if name else ""}')


NumbatPage()
NumbatHeap()
NumbatBuddy()
NumbatMem()
