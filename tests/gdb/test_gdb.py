"""gdb against Numbat under QEMU, the way students use it: QEMU waits for
gdb (`--gdb PORT`, as `ninja qemu-gdb`), gdb-multiarch reads
tools/gdbinit (as `ninja gdb`), sets a breakpoint in a function every boot
reaches, continues, and prints a backtrace. The backtrace must show the
function and the boot function that called it (kernel_main), each with
file:line: that proves symbols, the gdb stub and frame unwinding work
together.
"""

import re

import gdbsession


def backtrace_at(t, function):
    """gdb's output after breaking in `function` and asking for `bt`."""
    return gdbsession.run(t, [f'break {function}', 'continue', 'bt'])


def test_break_and_backtrace(t):
    out = backtrace_at(t, 'init_heap_pages')
    frames = [l for l in out.splitlines() if re.match(r'#\d+\s', l)]
    shown = '\n'.join(frames) or out[-1500:]
    t.check(frames and re.search(r'\binit_heap_pages\b.* at \S+\.c:\d+', frames[0]),
            f'frame #0 is not init_heap_pages with file:line:\n{shown}')
    t.check(any(re.search(r'\bkernel_main\b.* at \S*kernel/main\.c:\d+', f) for f in frames),
            f'the backtrace does not reach kernel_main (kernel/main.c:LINE):\n{shown}')
    t.check('Breakpoint 1,' in out, f'the breakpoint was never hit:\n{out[-1500:]}')
