"""Run every in-kernel test (`ktest=*`) on several machines. Each KTAP case
counts as a test of its own (named qemu/ktest.TOPOLOGY/suite.case); the
run must power off with exit status 0 and a complete KTAP report, whose
closing `# ktest:` line agrees with the cases printed."""

import os

import bootcheck


# badpages= for the offline suite (kernel/ktest_offline.c): a frame of
# OpenSBI's (reserved: marked, never handed over), then free frames, one
# range, and a frame of every other node (each node is 128 MiB from 0x80000).
def badpages(nr_nodes):
    others = ''.join(f',0x{0x81000 + n * 0x8000:x}' for n in range(1, nr_nodes))
    return f' badpages=0x80010,0x81000,0x81100-0x81101{others}'


def run_all(t, topology, extra='', timeout=120, **kw):
    r = t.boot(topology=topology, append='ktest=*' + extra, timeout=timeout, **kw)
    report = t.ktap(r, prefix=f'{topology}{"+initrd" if kw else ""}/')
    t.check(r.status == 0, f'ktest=* on {topology}: {r.describe()}')
    t.check(report.complete, f'ktest=* on {topology}: KTAP report incomplete '
            '(crashed or timed out)')
    t.check(len(report.cases) > 0, 'no test cases in the KTAP report')
    if report.summary:
        p, f, s = report.summary
        t.check((p, f, s) == (sum(c.ok and not c.skipped for c in report.cases),
                              len(report.failed),
                              sum(c.skipped for c in report.cases)),
                f'`# ktest: {p} passed, {f} failed, {s} skipped` disagrees with the '
                f'{len(report.cases)} cases printed')
    else:
        t.check(False, 'no closing `# ktest: N passed, N failed` line')
    return report


def test_1node(t):
    run_all(t, '1node', badpages(1))


def test_2node(t):
    run_all(t, '2node', badpages(2))


def test_4node(t):
    run_all(t, '4node', badpages(4))


def test_big(t):
    # 16 GiB in 4 nodes, 8 harts: the SMP stress with every hart at once,
    # and eight hart starts per boot for the firmware's start race
    # (docs/kernel.md) to hit. scrub=off: QEMU's RAM starts zeroed, and
    # seven idle harts reading all 16 GiB of it (scrub=idle) take over a
    # minute of both host cores, starving the boot hart that runs the
    # tests; the scrub suite runs with scrub=idle on every other machine.
    run_all(t, 'big', extra=' scrub=off')


def test_1node_initrd(t):
    path = os.path.join(t.workdir, 'initrd.bin')
    bootcheck.make_initrd(path)
    report = run_all(t, '1node', initrd=path)
    # Case names are 'MACHINE/suite.case', and the machine here is
    # '1node+initrd': look for 'initrd' in the suite and case only.
    skipped = [c.name for c in report.cases
               if c.skipped and 'initrd' in c.name.split('/', 1)[-1]]
    t.check(not skipped, f'initrd tests skipped although QEMU got -initrd: {skipped}')


def test_memless(t):
    run_all(t, 'memless')


def test_cpuless(t):
    run_all(t, 'cpuless')
