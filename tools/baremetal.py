"""Tiny bare-metal RISC-V programs, assembled on the spot with the cross gcc.

They stand in for the kernel where the kernel is not the point: the
benchmark's baseline (QEMU + OpenSBI with a payload that powers off at
once) and the runner's own tests (a payload that floods the console, one
that exits with a chosen status). They are linked at 0x80200000, where
OpenSBI's fw_dynamic jumps, and stop QEMU through the sifive,test device
at 0x100000 (write 0x5555 to pass, (code << 16) | 0x3333 to fail with code).

Standard library only.
"""

import os
import shutil
import subprocess

POWEROFF = 0x100000
UART = 0x10000000


def cross_gcc():
    for pre in ('riscv64-unknown-elf-', 'riscv64-linux-gnu-', 'riscv64-elf-'):
        if shutil.which(pre + 'gcc'):
            return shutil.which(pre + 'gcc')
    raise RuntimeError('no RISC-V cross gcc (sudo apt-get install gcc-riscv64-unknown-elf)')


def build(workdir, name, body):
    """Assemble `body` (instructions after _start) into workdir/NAME.elf."""
    os.makedirs(workdir, exist_ok=True)
    src = os.path.join(workdir, name + '.S')
    elf = os.path.join(workdir, name + '.elf')
    with open(src, 'w') as f:
        f.write('\t.globl _start\n_start:\n' + body + '\n')
    p = subprocess.run([cross_gcc(), '-nostdlib', '-static', '-march=rv64imac',
                        '-mabi=lp64', '-Wl,-Ttext=0x80200000', '-Wl,-N',
                        '-Wl,--no-warn-rwx-segments', '-o', elf, src],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f'assembling {src} failed: {p.stderr.strip()}')
    return elf


def exit_elf(workdir, code=0):
    """Powers off at once with exit status `code` (0..255)."""
    value = 0x5555 if code == 0 else (code << 16) | 0x3333
    return build(workdir, f'exit{code}',
                 f'\tli t0, {POWEROFF:#x}\n\tli t1, {value:#x}\n\tsw t1, 0(t0)\n1:\tj 1b')


def flood_elf(workdir):
    """Writes 'x' to the UART forever."""
    return build(workdir, 'flood',
                 f'\tli t0, {UART:#x}\n\tli t1, 0x78\n1:\tsb t1, 0(t0)\n\tj 1b')


def say_and_exit_elf(workdir, text, code=0):
    """Writes `text` and a newline to the UART, then powers off with `code`."""
    body = f'\tli t0, {UART:#x}\n'
    for ch in text.encode() + b'\n':
        body += f'\tli t1, {ch}\n\tsb t1, 0(t0)\n'
    value = 0x5555 if code == 0 else (code << 16) | 0x3333
    body += f'\tli t0, {POWEROFF:#x}\n\tli t1, {value:#x}\n\tsw t1, 0(t0)\n1:\tj 1b'
    return build(workdir, f'say{code}', body)
