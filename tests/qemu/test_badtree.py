"""Broken device trees. The kernel reads the tree OpenSBI hands it; a tree
it cannot use must end in a `PANIC` line that names the problem, and exit
status 2, quickly, never a hang. The trees are QEMU's own, dumped and
damaged by tools/dtbgen.py, and given to QEMU with -dtb.

A truncated or garbled blob reaches the kernel only if the damage spares
what QEMU and OpenSBI read first: tools/dtbgen.py moves the memory nodes
to the end of the tree, then shortens the struct block inside them, or
fills the last one with noise. Two kinds of damage
never reach the kernel on QEMU 7.2, and the tests say so instead of
pretending: QEMU itself refuses a blob with a bad magic number (it parses
the blob to add /chosen), and OpenSBI stops silently on a blob cut short
as a file (it needs the nodes that are lost). For those we check that the
runner reports QEMU's error, or kills the silent firmware at the time
limit. The kernel's own parser meets such blobs in the host tests
(tests/host/test_fdt.c) and the fuzzer.
"""

import re

import dtbgen
import numbat_run

LIMIT = 20      # seconds; a panic takes well under one


def boot_bad(t, make):
    qemu = numbat_run.find_qemu()
    path = make(qemu, numbat_run.machine_args('1node'), t.workdir)
    return t.boot(topology='1node', dtb=path, timeout=LIMIT)


def expect_panic(t, r, pattern):
    panic = next((l for l in r.console.splitlines() if 'PANIC' in l), '')
    t.check(r.status == 2 and not r.timed_out, f'expected exit status 2: {r.describe()}')
    t.check(re.search(pattern, panic), f'PANIC line does not name the problem '
            f'(/{pattern}/): {panic or "no PANIC line"}')
    # The runner symbolises the backtrace: frame #0 gets function at file:line.
    t.check(re.search(r'#0 0x[0-9a-f]+ \w+ at \S+:\d+', r.console),
            'backtrace frame #0 is not symbolised as `function at file:line`')


def test_memory_reg_malformed(t):
    r = boot_bad(t, dtbgen.bad_memory_reg)
    expect_panic(t, r, r'memory@80000000.*reg')


def test_no_memory(t):
    r = boot_bad(t, dtbgen.no_memory)
    expect_panic(t, r, r'(?i)no RAM|memory')


def test_struct_block_truncated(t):
    # The header says the struct block ends inside the last memory node
    # (cut 28 bytes: inside its reg; cut 40: no FDT_END token at all).
    for cut in (28, 40):
        r = boot_bad(t, lambda q, m, w, cut=cut: dtbgen.truncated_struct(q, m, w, cut))
        t.require('Numbat:' in r.console, f'cut {cut}: the blob did not reach the '
                  f'kernel ({r.describe()})')
        expect_panic(t, r, r'(?i)struct block|runs past|FDT_END|truncat')


def test_garbage_struct_tail(t):
    # Garbage bytes where the last memory node was, inside a sound header.
    for seed in (1, 2):
        r = boot_bad(t, lambda q, m, w, seed=seed:
                     dtbgen.garbage_in_memory_node(q, m, w, seed))
        t.require('Numbat:' in r.console, f'seed {seed}: the blob did not reach the '
                  f'kernel ({r.describe()})')
        expect_panic(t, r, r'(?i)token|struct|device tree')


def test_garbage_refused_by_qemu(t):
    r = t.boot(topology='1node', dtb=dtbgen.garbage(t.workdir), timeout=LIMIT)
    t.check(not r.timed_out, f'garbage -dtb: {r.describe()}')
    t.check(r.qemu_failed and 'load_device_tree' in r.qemu_errors,
            f'QEMU 7.2 should refuse a blob with a bad magic number; got '
            f'{r.describe()}, stderr {r.qemu_errors.strip()[-200:]!r}')
    t.check('QEMU failed before the kernel ran' in r.describe(),
            f'the runner does not say QEMU failed: {r.describe()}')


def test_truncated_stops_in_firmware(t):
    qemu = numbat_run.find_qemu()
    path = dtbgen.truncated(qemu, numbat_run.machine_args('1node'), t.workdir, 0.7)
    r = t.boot(topology='1node', dtb=path, timeout=3)
    if 'Numbat:' in r.console:
        # A firmware that passes the blob on: then the kernel must panic.
        expect_panic(t, r, r'(?i)device tree|fdt|truncat')
        return
    t.check(r.timed_out and r.status == numbat_run.TIMEOUT_STATUS,
            f'truncated blob: expected OpenSBI to stop and the runner to kill it '
            f'at the time limit, got {r.describe()}')
    t.check(r.seconds < 3 + 5, f'the 3 s limit took {r.seconds:.1f} s to act')
