"""The kernel's page table keeps W^X and its stacks have guard pages.

Each test boots with crash=KIND (kernel/crash.c), which breaks one rule
on purpose, and checks that the kernel panics (exit status 2) with a
message that names the rule, the faulting address and its symbol, and
a backtrace the runner symbolises to the function that did it. The
symbol the kernel prints is checked against the ELF's own symbol table,
so a wrong in-kernel table (tools/ksyms.py) fails too. The last tests
boot normally: the in-kernel suite kernel_vm reads the page table back,
on the smallest machine and on 32 GiB in 4 nodes, where RAM must be
mapped with 1 GiB pages.
"""

import re
import subprocess

import numbat_run

READY = 'Numbat ready'
PANIC_RE = re.compile(r'PANIC on hart (\d+): (.*)')


def symbol_address(t, name):
    nm = numbat_run.find_cross_tool('nm')
    t.require(nm, 'needs the cross nm')
    out = subprocess.run([nm, t.kernel], capture_output=True, text=True).stdout
    m = re.search(r'^([0-9a-f]+) [tTrRdDbB] ' + re.escape(name) + '$', out, re.M)
    t.require(m, f'{name} not in the kernel symbol table')
    return int(m.group(1), 16)


def crash(t, kind, topology='1node'):
    """Boot with crash=KIND; return (hart, panic message, console)."""
    r = t.boot(topology=topology, append=f'crash={kind}', timeout=30)
    t.require(r.status == 2, f'crash={kind} should panic (exit 2): {r.describe()}')
    m = PANIC_RE.search(r.console)
    t.require(m, f'crash={kind}: no PANIC line')
    return int(m.group(1)), m.group(2), r.console


def expect_fault(t, kind, cause, symbol, rule, frame_fn):
    """The panic line: `CAUSE at 0xADDR (SYMBOL): RULE; pc ...`, ADDR is
    SYMBOL's address per the ELF, and frame #0 or #1 is frame_fn."""
    _, msg, console = crash(t, kind)
    m = re.match(r'(.+?) at 0x([0-9a-f]+) \((\S+?)\+0x([0-9a-f]+)\): (.*?); pc 0x', msg)
    t.require(m, f'crash={kind}: panic line not `CAUSE at ADDR (SYMBOL+OFF): RULE; '
              f'pc ...`: {msg!r}')
    got_cause, addr, sym, off, got_rule = m.groups()
    t.check(got_cause == cause, f'crash={kind}: cause {got_cause!r}, expected {cause!r}')
    t.check(sym == symbol, f'crash={kind}: address named {sym!r}, expected {symbol!r}')
    t.check(got_rule.startswith(rule), f'crash={kind}: rule {got_rule!r}, expected {rule!r}')
    t.check(int(addr, 16) == symbol_address(t, symbol) + int(off, 16),
            f'crash={kind}: 0x{addr} is not {symbol}+0x{off} in the ELF')
    t.check(re.search(r'#[01] 0x[0-9a-f]+ ' + frame_fn + r' at kernel/crash\.c:\d+', console),
            f'crash={kind}: backtrace does not show {frame_fn} at kernel/crash.c:LINE')


def test_text_is_not_writable(t):
    # What a hostile lab did to forge a report: patch ktest_fail's code.
    expect_fault(t, 'text-write', 'store/AMO page fault', 'ktest_fail',
                 'kernel text is read-only', 'text_write')


def test_rodata_is_not_writable(t):
    expect_fault(t, 'rodata-write', 'store/AMO page fault', 'crash_constant',
                 'kernel read-only data is read-only', 'rodata_write')


def test_not_ready_frametable_section_is_not_writable(t):
    # A write to a pending frame's entry before its section is ready.
    expect_fault(t, 'frametable-write', 'store/AMO page fault', 'frametable_zero_section',
                 'a write to a frame-table entry whose section is not ready',
                 'frametable_write')


def test_data_is_not_executable(t):
    expect_fault(t, 'exec-data', 'instruction page fault', 'crash_code',
                 'kernel data is not executable', 'exec_data')


def test_ram_is_not_executable(t):
    _, msg, console = crash(t, 'exec-ram')
    t.check(msg.startswith('instruction page fault at 0x') and 'RAM is not executable' in msg,
            f'crash=exec-ram: {msg!r}')
    t.check(re.search(r'#1 0x[0-9a-f]+ exec_ram at kernel/crash\.c', console),
            'crash=exec-ram: frame #1 is not exec_ram (the call that jumped)')


def test_null_is_not_mapped(t):
    _, msg, _ = crash(t, 'null')
    t.check(msg.startswith('load page fault at 0x0 ') and 'a NULL pointer' in msg
            and '(load_null+0x' in msg, f'crash=null: {msg!r}')


def expect_overflow(t, kind, topology, outer_fn):
    hart, msg, console = crash(t, kind, topology)
    t.check(msg.startswith(f'stack overflow on hart {hart}: '),
            f'crash={kind}: not `stack overflow on hart {hart}`: {msg!r}')
    t.check('(hart_stacks+0x' in msg and 'guard page below its kernel stack' in msg
            and '(recurse+0x' in msg, f'crash={kind}: {msg!r}')
    t.check(re.search(r'#1 0x[0-9a-f]+ recurse at kernel/crash\.c', console),
            f'crash={kind}: frame #1 is not recurse')
    t.check(re.search(r'\(#2 to #\d+: the same call site as #1, \d+ more times\)', console),
            f'crash={kind}: the recursion is not folded into one line')
    t.check(re.search(r'#\d+ 0x[0-9a-f]+ ' + outer_fn + ' at ', console),
            f'crash={kind}: the backtrace does not reach {outer_fn}, where it began')
    boot = re.search(r'Numbat: booting on hart (\d+)', console)
    t.require(boot, f'crash={kind}: no `Numbat: booting on hart N` line')
    return hart, int(boot.group(1))


def test_recursion_hits_the_guard(t):
    hart, boot = expect_overflow(t, 'recurse', '1node', 'kernel_main')
    t.check(hart == boot, f'crash=recurse overflowed on hart {hart}, not the boot hart {boot}')


def test_recursion_on_another_hart_hits_its_guard(t):
    # OpenSBI picks the boot hart (not always hart 0): another hart is any other.
    hart, boot = expect_overflow(t, 'recurse-hart', '2node', 'smp_secondary_main')
    t.check(hart != boot, f'crash=recurse-hart overflowed on the boot hart {boot}')


def test_bad_crash_value(t):
    r = t.boot(topology='1node', append='crash=bogus', watch=READY, stop_at_watch=True)
    t.check(re.search(r"bootargs: crash='bogus' ignored: no such kind of crash; "
                      r"accepted: crash=text-write\|", r.console),
            f'crash=bogus: no `bootargs:` line naming it and the kinds: {r.describe()}')
    t.check(r.watch_seconds is not None and 'PANIC' not in r.console,
            f'crash=bogus: boot did not go on to `{READY}`')


def vm_suite(t, topology, mem=None):
    r = t.boot(topology=topology, mem=mem, append='ktest=kernel_vm.*', timeout=60)
    report = t.ktap(r, prefix=f'{topology}{"-" + mem if mem else ""}/')
    t.check(r.status == 0 and report.complete and len(report.cases) >= 10,
            f'ktest=kernel_vm.* on {topology}: {r.describe()}')
    m = re.search(r'vm: Sv39 on: .*; pages 1G (\d+) 2M (\d+) 4K (\d+); tables (\d+)', r.console)
    t.require(m, f'{topology}: no `vm: Sv39 on` line')
    return [int(x) for x in m.groups()]


def test_vm_suite_1node(t):
    vm_suite(t, '1node')


def test_vm_suite_32g_4node(t):
    # 32 GiB: 31 whole GiB past the image's GiB are one page each, so the
    # map stays a few hundred entries and boot time does not grow with RAM.
    g1, m2, k4, tables = vm_suite(t, '4node', mem='32G')
    t.check(g1 >= 31, f'32 GiB mapped with only {g1} 1 GiB pages')
    t.check(g1 + m2 + k4 < 2048, f'{g1 + m2 + k4} leaf entries for 32 GiB: not large pages')
