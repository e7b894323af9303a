"""README.md's sample boot ("What you will see") is what a boot prints.

The sample is the first plain ``` block after the heading "What you will
see": a 1node boot from its banner to the prompt, line for line. Nothing
in it varies between boots of one kernel, so it is compared exactly; the
kernel's size (and with it the free page count) changes with the code,
and then this test fails until the sample is made again:

    python3 tests/qemu/test_readme_sample.py BUILD    # rewrites README.md
"""

import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
README = os.path.join(TOP, 'README.md')
HEADING = '## What you will see'


def sample_span(text):
    """(start, end) of the sample's lines inside text, without the fences."""
    h = text.index(HEADING)
    start = text.index('```\n', h) + 4
    end = text.index('```', start)
    return start, end


def boot_lines(console):
    """The console from the banner to the prompt (the prompt line cut to
    `numbat>`, since what follows it is typed)."""
    lines = console.splitlines()
    first = next(i for i, l in enumerate(lines) if l.startswith('Numbat: booting'))
    last = next(i for i, l in enumerate(lines) if l.startswith('numbat>') and i > first)
    return lines[first:last] + ['numbat>']


def boot(kernel, runner):
    r = runner(kernel, topology='1node', timeout=30, watch='numbat> ', stop_at_watch=True)
    return r, boot_lines(r.console)


def test_readme_sample_is_a_real_boot(t):
    with open(README) as f:
        text = f.read()
    s, e = sample_span(text)
    sample = text[s:e].rstrip('\n').splitlines()
    r = t.boot('1node', watch='numbat> ', stop_at_watch=True)
    t.require(r.watch_seconds is not None, 'the 1node boot never reached the prompt')
    real = boot_lines(r.console)
    for i, (want, got) in enumerate(zip(sample, real)):
        if want != got:
            t.check(False, f'README.md\'s sample boot, line {i + 1}: it says\n  {want}\n'
                           f'but a boot prints\n  {got}\nMake it again: python3 '
                           f'tests/qemu/test_readme_sample.py {t.build}')
            return
    t.check(len(sample) == len(real),
            f'README.md\'s sample boot has {len(sample)} lines, a boot prints {len(real)}: '
            f'python3 tests/qemu/test_readme_sample.py {t.build}')


def main(argv):
    """Rewrite README.md's sample from a boot of BUILD/numbat.elf."""
    sys.path.insert(0, os.path.join(TOP, 'tools'))
    import numbat_run
    if len(argv) != 1:
        print('usage: tests/qemu/test_readme_sample.py BUILD', file=sys.stderr)
        return 2
    kernel = os.path.join(argv[0], 'numbat.elf')
    if not os.path.isfile(kernel):
        print(f'test_readme_sample: {kernel} does not exist: run ninja first', file=sys.stderr)
        return 2
    r, lines = boot(kernel, numbat_run.run)
    with open(README) as f:
        text = f.read()
    s, e = sample_span(text)
    with open(README, 'w') as f:
        f.write(text[:s] + '\n'.join(lines) + '\n' + text[e:])
    print(f'README.md: the sample boot is now {len(lines)} lines of a real boot')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
