"""configure.py on bad ground: a missing cross compiler, QEMU or gdb is a
message that names the Debian package (and --install-deps); bad options
are refused with what to give instead; a build folder of its own gets a
build.ninja that re-runs configure.py with an absolute folder.

(These need no QEMU; they live with the runner's own tests because that
group already runs the host-side tools.)"""

import os
import subprocess
import sys

import numbat_run

CONFIGURE = os.path.join(numbat_run.TOP, 'configure.py')


def configure(t, *args, path=None):
    env = dict(os.environ)
    if path is not None:
        env['PATH'] = path
    return subprocess.run([sys.executable, CONFIGURE, *args], capture_output=True,
                          text=True, env=env, timeout=60, cwd=t.workdir)


def bin_with(t, name, tools):
    """A folder holding links to just these tools (found on the real PATH)."""
    d = os.path.join(t.workdir, name)
    os.makedirs(d, exist_ok=True)
    for tool in tools:
        real = subprocess.run(['sh', '-c', f'command -v {tool}'], capture_output=True,
                              text=True).stdout.strip()
        t.require(real, f'{tool} is not installed here, cannot stage the test')
        link = os.path.join(d, tool)
        if not os.path.exists(link):
            os.symlink(real, link)
    return d


def test_configure_names_missing_cross_compiler(t):
    r = configure(t, path=bin_with(t, 'bare', []))
    out = r.stdout + r.stderr
    t.check(r.returncode != 0, 'configure.py succeeded with no cross compiler on PATH')
    t.check('gcc-riscv64-unknown-elf' in out and '--install-deps' in out,
            f'the message should name the package and --install-deps:\n{out}')


def test_configure_names_a_bad_cross_prefix(t):
    r = configure(t, '--cross', 'nosuch-')
    out = r.stdout + r.stderr
    t.check(r.returncode != 0 and 'nosuch-gcc' in out,
            f'--cross nosuch- should say nosuch-gcc is missing:\n{out}')


def test_configure_names_missing_qemu(t):
    r = configure(t, path=bin_with(t, 'cross-only', ['riscv64-unknown-elf-gcc']))
    out = r.stdout + r.stderr
    t.check(r.returncode != 0 and 'qemu-system-misc' in out,
            f'a missing QEMU should name qemu-system-misc:\n{out}')


def test_configure_names_missing_gdb(t):
    r = configure(t, path=bin_with(t, 'no-gdb', ['riscv64-unknown-elf-gcc',
                                                 'qemu-system-riscv64']))
    out = r.stdout + r.stderr
    t.check(r.returncode != 0 and 'gdb-multiarch' in out,
            f'a missing gdb should name gdb-multiarch:\n{out}')


def test_configure_refuses_bad_options(t):
    for args, words in ((['--smp', '99'], '--smp'), (['--mem', 'lots'], '--mem'),
                        (['--topology', 'ring'], 'topology')):
        r = configure(t, *args)
        out = r.stdout + r.stderr
        t.check(r.returncode != 0 and words in out,
                f'configure.py {" ".join(args)} should be refused naming {words}:\n{out}')


def test_configure_own_build_folder(t):
    folder = os.path.join(t.workdir, 'b')
    r = configure(t, '--builddir', 'b')
    t.require(r.returncode == 0, f'configure.py --builddir b failed:\n{r.stdout}{r.stderr}')
    ninja_file = os.path.join(folder, 'build.ninja')
    t.require(os.path.exists(ninja_file), 'no build.ninja in the build folder')
    with open(ninja_file) as f:
        text = f.read()
    t.check(f'confargs = --builddir {folder}' in text,
            'the regeneration should re-run configure.py with the absolute folder')
    t.check('\nbuild build.ninja: configure' in text,
            'the regeneration edge should be named build.ninja (as ninja -C opens it)')
    t.check(os.path.exists(os.path.join(folder, 'compile_commands.json')),
            'compile_commands.json should sit beside build.ninja')
