"""Running a rubric's groups: a host test binary with its case filters and
a nonce, or a QEMU boot with `ktest=GLOB` and a nonce; each rubric test
then earns its points or gets the reason it did not."""

import os
import random
import tempfile
import time

import labtool
import numbat_run
from grader import sandbox
from grader.proc import OUTPUT_CAP
from grader.report import tail
from grader.results import Structure, parse_host, parse_kernel

INITRD_BYTES = 300 * 1024 + 123


def host_expected(ctx, binary, filters, timeout, scratch):
    """The cases the binary will run for these filters, in its order."""
    status, out, timed_out, _ = host_step(ctx, [binary, '--list'], timeout, scratch)
    if status != 0 or timed_out:
        raise Structure(f'{os.path.basename(binary)} --list failed (status {status})')
    names = [l.split(' (')[0] for l in out.split('\n') if l.strip()]
    return [n for n in names if any(f in n for f in filters)]


def describe_host_end(status, timed_out, capped, timeout):
    if capped:
        return f'output passed {OUTPUT_CAP >> 10} KiB and was cut off (a print loop?)'
    if timed_out:
        return f'timed out after {timeout} s and was killed (an endless loop?)'
    if status is not None and status < 0:
        return f'killed by signal {-status} (a crash)'
    return f'exit status {status}'


def run_host_group(ctx, group, results):
    binary = os.path.join(ctx.build, 'host', group['binary'])
    cases = [t['case'] for t in group['tests']]
    timeout = ctx.clamp(group.get('timeout', 30))
    if not os.path.isfile(binary):
        fail_group(group, results, f'the test program {group["binary"]} was not built')
        return
    try:
        scratch = tempfile.mkdtemp(prefix='host-', dir=ctx.work)
        ctx.sandbox.own(scratch)
        expected = host_expected(ctx, binary, cases, min(timeout, 10), scratch)
        seed = random.SystemRandom().randrange(10**9, 10**10)
        status, out, timed_out, capped = host_step(
            ctx, [binary] + cases + ['--seed', str(seed)], timeout, scratch)
        got = parse_host(out, expected, seed)
    except Structure as e:
        fail_group(group, results, structure_message(e, group['binary']))
        return
    end = describe_host_end(status, timed_out, capped, timeout)
    for t in group['tests']:
        r = results[labtool.test_name(group, t)]
        if t['case'] not in expected:
            r.status, r.output = 'failed', f'no test case {t["case"]} in {group["binary"]}'
            continue
        settle(r, got.get(t['case']), lambda: f'{group["binary"]} {end} before this case '
               f'finished.\nLast output:\n{tail(out, 25)}')


def host_step(ctx, cmd, timeout, scratch):
    """A host test binary in the sandbox: it sees itself (read-only) and
    its scratch folder, nothing of the build or the tree."""
    limits = dict(sandbox.LIMITS_HOST, cpu=int(timeout) + 5)
    return ctx.sandbox.run(cmd, timeout, ro=[cmd[0]], rw=[scratch], limits=limits,
                           cwd=scratch, env={'ASAN_OPTIONS': sandbox.ASAN_OPTIONS})


def qemu_wrap(ctx, group):
    """numbat_run's wrap for one boot: QEMU in the sandbox, seeing the
    files its command names (kernel, initrd, device tree) read-only."""
    topo = numbat_run.get_topology(group['topology'])
    mib = numbat_run.parse_size_mib(group['mem']) if group.get('mem') else topo.mem_mib
    limits = dict(sandbox.qemu_limits(mib), cpu=int(ctx.clamp(group.get('timeout', 30))) * 4 + 5)

    def wrap(cmd):
        files = [a for a in cmd[1:] if a.startswith('/') and os.path.isfile(a)]
        return ctx.sandbox.prefix(ro=files, limits=limits) + cmd
    return wrap


def ktest_append(group):
    """A fresh nonce for one boot, and the boot arguments that run the
    group's tests and ask the kernel to echo it."""
    nonce = random.SystemRandom().randrange(10**9, 10**10)
    return nonce, f'ktest={group["glob"]} ktest_nonce={nonce}'


def run_qemu_group(ctx, group, results):
    timeout = ctx.clamp(group.get('timeout', 30))
    initrd = None
    if group.get('initrd'):
        initrd = os.path.join(ctx.work, 'initrd.bin')
        if not os.path.exists(initrd):
            with open(initrd, 'wb') as f:
                f.write(bytes((i * 7 + 3) & 0xff for i in range(INITRD_BYTES)))
    nonce, append = ktest_append(group)
    try:
        r = numbat_run.run(ctx.kernel, topology=group['topology'], append=append,
                           mem=group.get('mem'), smp=group.get('smp'),
                           initrd=initrd, timeout=timeout, workdir=ctx.work,
                           output_cap=OUTPUT_CAP, wrap=qemu_wrap(ctx, group))
        if r.status == 2 and not r.capped:
            # A panic gets one more boot (a race can hit one boot and not the
            # next); the second boot's result counts, and the report says so.
            first = r
            nonce, append = ktest_append(group)
            r = numbat_run.run(ctx.kernel, topology=group['topology'], append=append,
                               mem=group.get('mem'), smp=group.get('smp'),
                               initrd=initrd, timeout=ctx.clamp(group.get('timeout', 30)),
                               workdir=ctx.work, output_cap=OUTPUT_CAP,
                               wrap=qemu_wrap(ctx, group))
            if r.status != 2:
                r.console = (f'(the first boot panicked; this is the second)\n'
                             f'{boot_story(first)}\n--- second boot ---\n{r.console}')
    except numbat_run.RunError as e:
        raise GraderError(f'cannot boot QEMU: {e}')
    if 'bwrap: ' in r.qemu_errors and not r.console.strip():
        raise GraderError(f'cannot start the sandbox for QEMU: {r.qemu_errors.strip()[-300:]}')
    try:
        got, complete, _ = parse_kernel(r.console, nonce)
        if complete:
            any_fail = any(not ok for ok, _, _ in got.values())
            if r.status != (1 if any_fail else 0):
                raise Structure(f'the boot ended with {r.describe()} but its report says '
                                f'{"a case failed" if any_fail else "every case passed"}')
    except Structure as e:
        fail_group(group, results, structure_message(e, f'the {group["topology"]} boot'))
        return
    how = boot_story(r)
    for t in group['tests']:
        res = results[labtool.test_name(group, t)]
        settle(res, got.get(t['case']),
               lambda: f'no result: the boot ended first ({r.describe()}).\n{how}')


def boot_story(r):
    """How a boot ended, for a case it never reported: the panic block
    (already symbolised), or the last console lines."""
    lines = r.console.rstrip('\n').split('\n')
    for k, l in enumerate(lines):
        if l.startswith('PANIC'):
            block = lines[max(0, k - 5):k + 45]
            return 'Console around the panic:\n' + '\n'.join(block)
    return 'Last console lines:\n' + tail(r.console, 20)


def structure_message(e, what):
    return (f'{what}: its output does not have the structure the test runner prints '
            f'({e}). Results printed by the code under test are not accepted, so '
            'every test of this run scores 0. Do not print lines that look like test '
            'results (`ok N ...`, `KTAP version 1`).')


def settle(res, got, why_missing):
    if got is None:
        res.status, res.output = 'failed', why_missing()
        return
    ok, skip, diags = got
    if ok and not skip:
        res.status, res.score = 'passed', res.max_score
    elif skip:
        res.status, res.output = 'skipped', f'skipped: {skip}'
    else:
        res.status = 'failed'
        res.output = '\n'.join(diags[-30:]) or '(the case failed without a diagnostic)'


def fail_group(group, results, message):
    for t in group['tests']:
        r = results[labtool.test_name(group, t)]
        r.status, r.output, r.score = 'failed', message, 0


class GraderError(Exception):
    """Something the submission cannot have caused."""


class Context:
    def __init__(self, work, tree, deadline, run_cap=None, box=None):
        self.run_cap = run_cap
        self.sandbox = box or sandbox.Sandbox('off')
        self.work = work
        self.tree = tree
        self.build = os.path.join(work, 'build')
        self.kernel = os.path.join(self.build, 'numbat.elf')
        self.deadline = deadline

    def clamp(self, seconds, capped=True):
        if self.run_cap and capped:
            seconds = min(seconds, self.run_cap)
        return max(1.0, min(seconds, self.deadline - time.monotonic()))
