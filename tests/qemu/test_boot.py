"""Boot each topology and check that the kernel saw the machine QEMU was
given: RAM banks and their nodes, harts and their nodes, the distance
matrix, the reserved ranges, the heap total, and every hart coming up.

Each boot stops as soon as the kernel prints `Numbat ready` (the monitor
would otherwise wait for input), within a time limit. The initrd boot also
checks that the kernel read the same bytes the host wrote: the 32-bit byte
sum it prints must equal the one computed here.
"""

import os

import bootcheck

READY = 'Numbat ready'


def boot_and_compare(t, topology, mem_mib=None, smp=None, **kw):
    r = t.boot(topology=topology, watch=READY, stop_at_watch=True, timeout=60,
               mem=f'{mem_mib}M' if mem_mib else None, smp=smp, **kw)
    t.require(not r.timed_out and r.watch_seconds is not None,
              f'{topology}: no `{READY}` line ({r.describe()})')
    return bootcheck.compare(t, r.console, bootcheck.expected(topology, mem_mib, smp))


def test_1node(t):
    boot_and_compare(t, '1node')


def test_2node(t):
    boot_and_compare(t, '2node')


def test_4node(t):
    boot_and_compare(t, '4node')


def test_2node_resized(t):
    # --mem/--smp override the topology: 2 x 256 MiB, 3 + 3 harts.
    boot_and_compare(t, '2node', mem_mib=512, smp=6)


def test_memless(t):
    got = boot_and_compare(t, 'memless')
    # Node 2 has harts and no RAM: a harts line, no bank line.
    t.check(2 in got['harts'] and all(n != 2 for n, _, _ in got['banks']),
            f'memory-less node 2: harts {got["harts"]}, banks {got["banks"]}')


def test_cpuless(t):
    got = boot_and_compare(t, 'cpuless')
    t.check(2 not in got['harts'] and any(n == 2 for n, _, _ in got['banks']),
            f'CPU-less node 2: harts {got["harts"]}, banks {got["banks"]}')


def test_initrd(t):
    path = os.path.join(t.workdir, 'initrd.bin')
    want_sum = bootcheck.make_initrd(path)
    size = os.path.getsize(path)
    got = boot_and_compare(t, '1node', initrd=path)
    t.require(got['initrd'] is not None, 'no `initrd:` line although QEMU got -initrd')
    start, end, nbytes, total, freed = got['initrd']
    t.check(nbytes == size and end - start == size,
            f'initrd line says [{start:#x}, {end:#x}) {nbytes} bytes; the file has {size}')
    t.check(total == want_sum,
            f'initrd sum {total:#010x} printed by the kernel != {want_sum:#010x} on the host')
    pages = ((end + 4095) // 4096) - (start // 4096)
    t.check(freed == pages, f'{freed} initrd pages freed, expected {pages} '
            f'(every page of [{start:#x}, {end:#x}))')
    ranges = [(s, e) for s, e, k in got['reserved'] if k == 'initrd']
    t.check(ranges == [(start, end)],
            f'reserved initrd ranges {ranges} != the initrd [{start:#x}, {end:#x})')
    t.check(any(b <= start and end <= e for _, b, e in got['banks']),
            f'initrd [{start:#x}, {end:#x}) is not inside a RAM bank')


def test_bad_bootarg(t):
    r = t.boot(topology='1node', append='nosuchflag=1', watch=READY,
               stop_at_watch=True)
    got = bootcheck.parse(r.console)
    t.check(any('nosuchflag' in l for l in got['bootargs']),
            f'no `bootargs:` line naming nosuchflag (got {got["bootargs"]})')
    t.check(r.watch_seconds is not None,
            f'boot did not go on to `{READY}` after a bad argument ({r.describe()})')


def test_bad_ktest_value(t):
    r = t.boot(topology='1node', append='ktest=', watch=READY, stop_at_watch=True)
    got = bootcheck.parse(r.console)
    t.check(got['bootargs'] or r.status == 3,
            f'`ktest=` with no value: neither a `bootargs:` line nor exit 3 '
            f'({r.describe()})')


def test_bad_ktest_nonce(t):
    # Not digits, and one digit too many: each named in a `bootargs:` line,
    # no nonce echoed, and the tests still run.
    for bad in ('12ab', '1' * 21):
        r = t.boot(topology='1node', append=f'ktest=kernel_printk.* ktest_nonce={bad}',
                   timeout=30)
        got = bootcheck.parse(r.console)
        t.check(any('ktest_nonce' in l and 'digits' in l for l in got['bootargs']),
                f'ktest_nonce={bad}: no `bootargs:` line saying why (got {got["bootargs"]})')
        t.check('# ktest: nonce' not in r.console, f'ktest_nonce={bad} was echoed')
        t.check(r.status == 0, f'ktest_nonce={bad}: the tests did not pass: {r.describe()}')


def test_ktest_nomatch(t):
    r = t.boot(topology='1node', append='ktest=nomatch*', timeout=30)
    t.check(r.status == 3, f'ktest=nomatch* should exit 3: {r.describe()}')
    t.check('KTAP version' not in r.console or 'ok 1' not in r.console,
            'ktest=nomatch* ran tests anyway')


def test_ktest_list(t):
    r = t.boot(topology='1node', append='ktest=list', timeout=30)
    t.check(r.status == 0, f'ktest=list should power off with 0: {r.describe()}')
    names = [l.strip() for l in r.console.splitlines()
             if l.strip().count('.') == 1 and ' ' not in l.strip() and '_' in l]
    t.check(len(names) >= 5, f'ktest=list printed {len(names)} suite.case names')
