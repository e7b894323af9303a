#!/usr/bin/env python3
"""Configure Numbat: find the tools, then write build.ninja.

Reads top to bottom like the build it makes:
  1. options;
  2. tool probes, each with a message that says what to install;
  3. variables and flags;
  4. rules, each with a short description;
  5. one build line per source (kernel, host library, host tests, fuzzers,
     benchmarks), the link and its disassembly listing;
  6. run, debug and test targets (in the console pool, so they own the
     terminal);
  7. the default target and the edge that regenerates build.ninja when this
     file, or anything it reads, changes.
It also writes compile_commands.json for editors.

Python standard library only: python3 on a course machine may not see
Debian's python3-* packages.
"""

import argparse
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

TOP = os.path.dirname(os.path.abspath(__file__))

# Debian/Ubuntu packages for each tool, and Homebrew's where one exists.
PACKAGES = {
    'cross': ('gcc-riscv64-unknown-elf', 'riscv64-elf-gcc'),
    'qemu': ('qemu-system-misc', 'qemu'),
    'opensbi': ('opensbi', 'qemu (ships OpenSBI as its -bios default)'),
    'gdb': ('gdb-multiarch', 'riscv64-elf-gdb'),
    'dtc': ('device-tree-compiler', 'dtc'),
    'ninja': ('ninja-build', 'ninja'),
    'cc': ('gcc libc6-dev', None),
    'clang': ('clang libclang-rt-14-dev', 'llvm'),
}
# What --install-deps installs (Debian 12 / Ubuntu 22.04+ names).
APT_PACKAGES = [
    'gcc-riscv64-unknown-elf', 'binutils-riscv64-unknown-elf', 'opensbi',
    'qemu-system-misc', 'gdb-multiarch', 'ninja-build', 'device-tree-compiler',
    'gcc', 'libc6-dev', 'clang', 'libclang-rt-14-dev', 'python3', 'bubblewrap', 'git',
]
CROSS_PREFIXES = ['riscv64-unknown-elf-', 'riscv64-linux-gnu-', 'riscv64-elf-']
GDB_NAMES = ['gdb-multiarch', 'riscv64-elf-gdb', 'riscv64-unknown-elf-gdb']
SOURCE_DIRS = ['kernel', 'platform', 'mm', 'lib', 'tests', 'tests/host', 'tests/host/lib',
               'tests/bench', 'tests/fuzz', 'tests/dts']
TOPOLOGIES = ['1node', '2node', '4node', 'memless', 'cpuless', 'big', '8node', 'sg2042',
              'nohart0']


# --- 1. options ---------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(
        description='Find the tools Numbat needs and write build.ninja.')
    p.add_argument('--install-deps', action='store_true',
                   help='install the Debian/Ubuntu packages first (apt-get, '
                        'through sudo when not root), then configure')
    p.add_argument('--cross', metavar='PREFIX',
                   help='RISC-V cross-compiler prefix, e.g. riscv64-elf-')
    p.add_argument('--release', action='store_true',
                   help='release build: -O2, ASSERTs compiled out, no poisoning')
    p.add_argument('--topology', choices=TOPOLOGIES, default='1node',
                   help='the machine `ninja qemu` boots (default: 1node)')
    p.add_argument('--mem', metavar='SIZE',
                   help='RAM for `ninja qemu`, e.g. 512M or 2G (default: the topology\'s)')
    p.add_argument('--smp', type=int, metavar='N',
                   help='harts for `ninja qemu` (default: the topology\'s)')
    p.add_argument('--append', default='', metavar='ARGS',
                   help='kernel boot arguments for `ninja qemu`, e.g. "ktest=mm_*"')
    p.add_argument('--builddir', default='build',
                   help='where objects and images go (default: build)')
    p.add_argument('--gdb-port', type=int,
                   help='TCP port for `ninja qemu-gdb` (default: $NUMBAT_GDB_PORT if set, '
                        'else one per user)')
    args = p.parse_args(argv)
    if args.smp is not None and not 1 <= args.smp <= max_harts():
        p.error(f'--smp must be between 1 and {max_harts()} (Numbat supports '
                f'{max_harts()} harts: MAX_HARTS in include/numbat/types.h)')
    if args.mem is not None and not valid_size(args.mem):
        p.error(f'--mem {args.mem!r}: give a size such as 128M or 2G')
    return args


def max_harts():
    """MAX_HARTS, read from include/numbat/types.h (the kernel's own limit)."""
    with open(os.path.join(TOP, 'include', 'numbat', 'types.h')) as f:
        return int(re.search(r'#define MAX_HARTS\s+(\d+)', f.read()).group(1))


def env_gdb_port():
    """NUMBAT_GDB_PORT, when set: the port tests give each tree they
    configure, so that two trees of one user never share a port."""
    text = os.environ.get('NUMBAT_GDB_PORT', '')
    if not text:
        return None
    if not text.isdigit() or not 1024 <= int(text) <= 65535:
        sys.exit(f'configure: NUMBAT_GDB_PORT={text!r}: give a port from 1024 to 65535')
    return int(text)


def valid_size(text):
    return (len(text) >= 2 and text[:-1].isdigit() and text[-1] in 'MG'
            and int(text[:-1]) > 0)


# --- 2. tool probes -------------------------------------------------------------

def install_deps():
    """apt-get install the toolchain; safe to run twice."""
    if not shutil.which('apt-get'):
        sys.exit('configure: --install-deps needs apt-get (Debian or Ubuntu). '
                 'On other systems install the tools named in README.md by hand.')
    sudo = [] if os.geteuid() == 0 else ['sudo']
    if sudo and not shutil.which('sudo'):
        sys.exit('configure: --install-deps must run as root, or with sudo installed.')
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    print('configure: installing ' + ' '.join(APT_PACKAGES), flush=True)
    for cmd in (sudo + ['apt-get', 'update', '-q'],
                sudo + ['apt-get', 'install', '-y', '-q', '--no-install-recommends']
                + APT_PACKAGES):
        if subprocess.call(cmd, env=env) != 0:
            sys.exit(f'configure: `{" ".join(cmd)}` failed; see its messages above.')


def missing(tool, what):
    deb, brew = PACKAGES[tool]
    msg = f'configure: {what} not found.\n  Debian/Ubuntu: sudo apt-get install {deb}'
    if brew:
        msg += f'\n  Homebrew:      brew install {brew}'
    msg += '\n  Or run ./configure.py --install-deps to install everything.'
    return msg


def probe_cross(prefix):
    prefixes = [prefix] if prefix else CROSS_PREFIXES
    for pre in prefixes:
        if shutil.which(pre + 'gcc'):
            return pre
    if prefix:
        sys.exit(f'configure: --cross {prefix}: {prefix}gcc is not on PATH.')
    sys.exit(missing('cross', 'a RISC-V cross compiler (tried '
                     + ', '.join(p + 'gcc' for p in CROSS_PREFIXES) + ')'))


def probe_opensbi(qemu):
    """QEMU's `-bios default` loads a firmware file it ships or Debian's opensbi."""
    datadir_guess = os.path.join(os.path.dirname(os.path.dirname(qemu)), 'share', 'qemu')
    for d in (datadir_guess, '/usr/share/qemu', '/usr/local/share/qemu',
              '/opt/homebrew/share/qemu'):
        if os.path.exists(os.path.join(d, 'opensbi-riscv64-generic-fw_dynamic.bin')):
            return os.path.join(d, 'opensbi-riscv64-generic-fw_dynamic.bin')
    sys.exit(missing('opensbi', "QEMU's OpenSBI firmware "
                     '(opensbi-riscv64-generic-fw_dynamic.bin)'))


def probe_tools(args):
    tools = {'cross': probe_cross(args.cross)}
    for key, names, what in (
            ('qemu', ['qemu-system-riscv64'], 'qemu-system-riscv64'),
            ('gdb', GDB_NAMES, 'a RISC-V capable gdb (' + ', '.join(GDB_NAMES) + ')'),
            ('dtc', ['dtc'], 'dtc, the device-tree compiler'),
            ('ninja', ['ninja', 'ninja-build'], 'ninja'),
            ('cc', ['cc', 'gcc'], 'a host C compiler')):
        found = next((shutil.which(n) for n in names if shutil.which(n)), None)
        if not found:
            sys.exit(missing(key, what))
        tools[key] = found
    tools['opensbi'] = probe_opensbi(tools['qemu'])
    tools['clang'] = shutil.which('clang') or ''
    if not tools['clang']:
        print(missing('clang', 'clang (for the libFuzzer target; fuzzing is skipped)'))
    return tools


# --- 3. variables and flags -----------------------------------------------------

ARCH_FLAGS = '-march=rv64imac_zicsr_zifencei -mabi=lp64 -mcmodel=medany'
WARN = '-Wall -Wextra -Wno-unused-parameter -Wshadow -Wstrict-prototypes'


def flags(args, tools):
    debug = not args.release
    opt = '-Og' if debug else '-O2 -DNDEBUG'
    inc = '-I$top/include -I$top'
    libgcc = subprocess.run(
        [tools['cross'] + 'gcc', '-march=rv64imac', '-mabi=lp64',
         '-print-libgcc-file-name'], capture_output=True, text=True).stdout.strip()
    return {
        'kcflags': f'{ARCH_FLAGS} -ffreestanding -fno-common -fno-builtin '
                   f'-fno-stack-protector -fno-pie -fno-omit-frame-pointer '
                   f'-std=gnu11 -g {opt} {WARN} {inc} -DNUMBAT_KERNEL'
                   + (' -DNUMBAT_DEBUG' if debug else ''),
        'kldflags': f'{ARCH_FLAGS} -nostdlib -static -no-pie -Wl,--build-id=none '
                    f'-Wl,-T,$top/kernel/kernel.ld',
        'klibs': libgcc,
        'hcflags': f'-std=gnu11 -g -O1 -fno-omit-frame-pointer {WARN} {inc} '
                   f'-DNUMBAT_HOST -DNUMBAT_DEBUG -fsanitize=address,undefined '
                   f'-fno-sanitize-recover=undefined',
        'hldflags': '-fsanitize=address,undefined -lm',
        'bcflags': f'-std=gnu11 -g -O2 -DNDEBUG {WARN} {inc} -DNUMBAT_HOST',
        'fcflags': f'-std=gnu11 -g -O1 {WARN} {inc} -DNUMBAT_HOST -DNUMBAT_DEBUG '
                   f'-fsanitize=fuzzer,address,undefined',
    }


# --- sources, found by convention ------------------------------------------------

def sources(pattern):
    return sorted(os.path.relpath(p, TOP) for p in glob.glob(os.path.join(TOP, pattern)))


def kernel_sources():
    out = []
    for d in ('kernel', 'platform', 'mm', 'lib'):
        out += sources(f'{d}/*.c') + sources(f'{d}/*.S')
    return out


def host_sources():
    """mm/ plus the portable pieces of platform/ and lib/ (they use no kernel code)."""
    portable = sources('mm/*.c') + [
        s for s in sources('platform/*.c') + sources('lib/*.c')
        if first_lines_say(s, 'HOST-PORTABLE')]
    return portable


def first_lines_say(path, word):
    with open(os.path.join(TOP, path), encoding='utf-8', errors='replace') as f:
        return word in f.read(2000)


# --- 4.-7. the ninja file ----------------------------------------------------------

def ninja_file(args):
    """build.ninja sits at the top for the default build/, so that plain
    `ninja` works there; any other build folder gets its own, used with
    `ninja -C FOLDER` (handy for a second configuration beside the first)."""
    if os.path.abspath(args.builddir) == os.path.join(TOP, 'build'):
        return os.path.join(TOP, 'build.ninja')
    return os.path.join(os.path.abspath(args.builddir), 'build.ninja')


def write_ninja(args, tools, argv):
    b = os.path.abspath(args.builddir)
    fl = flags(args, tools)
    uid = os.getuid() if hasattr(os, 'getuid') else 0
    gdb_port = args.gdb_port or env_gdb_port() or 20000 + uid % 10000
    run_py = '$top/tools/numbat_run.py'
    machine = f'--topology {args.topology}'
    if args.mem:
        machine += f' --mem {args.mem}'
    if args.smp:
        machine += f' --smp {args.smp}'
    if args.append:
        machine += ' --append ' + shlex.quote(args.append)

    out = []
    w = out.append
    w('# Generated by configure.py: edit that, not this (it regenerates itself).')
    w(f'# configure.py {" ".join(shlex.quote(a) for a in argv)}')
    w('ninja_required_version = 1.10')
    w(f'top = {TOP}')
    w(f'builddir = {b}')
    w(f'cross = {tools["cross"]}')
    w(f'hostcc = {tools["cc"]}')
    w(f'clang = {tools["clang"]}')
    w(f'qemu = {tools["qemu"]}')
    w(f'gdb = {tools["gdb"]}')
    w(f'dtc = {tools["dtc"]}')
    w(f'python = {sys.executable}')
    w(f'gdb_port = {gdb_port}')
    for k, v in fl.items():
        w(f'{k} = {v}')
    w('')

    # Rules.
    w('rule kcc\n  command = ${cross}gcc -MMD -MF $out.d $kcflags -c $in -o $out'
      '\n  depfile = $out.d\n  deps = gcc\n  description = CC $in')
    w('rule klink\n  command = ${cross}gcc $kldflags -o $out $in $klibs'
      '\n  description = LINK $out')
    w('rule kasm\n  command = ${cross}objdump -d -S $in > $out'
      '\n  description = OBJDUMP $out')
    w('rule hcc\n  command = $hostcc -MMD -MF $out.d $cflags -c $in -o $out'
      '\n  depfile = $out.d\n  deps = gcc\n  description = HOSTCC $in')
    w('rule hlink\n  command = $hostcc -o $out $in $ldflags'
      '\n  description = HOSTLD $out')
    w('rule ar\n  command = rm -f $out && ar rcs $out $in\n  description = AR $out')
    w('rule fcc\n  command = $clang -MMD -MF $out.d $fcflags -c $in -o $out'
      '\n  depfile = $out.d\n  deps = gcc\n  description = CLANG $in')
    w('rule flink\n  command = $clang -fsanitize=fuzzer,address,undefined -o $out $in'
      '\n  description = FUZZLD $out')
    w('rule dtc\n  command = $dtc -q -I dts -O dtb -o $out $in'
      '\n  description = DTC $in')
    w('rule run\n  command = $cmd\n  description = $desc\n  pool = console')
    w('rule configure\n  command = $python $top/configure.py $confargs'
      '\n  generator = 1\n  description = CONFIGURE (configure.py changed)')
    w('')

    commands = []

    compilers = {'kcflags': tools['cross'] + 'gcc', 'hcflags': tools['cc'],
                 'bcflags': tools['cc'], 'fcflags': tools['clang']}
    rules = {'kcflags': 'kcc', 'hcflags': 'hcc', 'bcflags': 'hcc', 'fcflags': 'fcc'}

    def cc(src, obj, flagset):
        """One compile: the build line, and its entry in compile_commands.json."""
        w(f'build {obj}: {rules[flagset]} $top/{src}')
        if rules[flagset] == 'hcc':
            w(f'  cflags = ${flagset}')
        commands.append({'directory': TOP, 'file': os.path.join(TOP, src),
                         'output': expand(obj.replace('$builddir', b)),
                         'command': f'{compilers[flagset]} {expand(fl[flagset])} '
                                    f'-c {os.path.join(TOP, src)}'})

    # Kernel.
    kobjs = []
    for src in kernel_sources():
        obj = f'$builddir/kernel-obj/{os.path.splitext(src)[0]}.o'
        cc(src, obj, 'kcflags')
        kobjs.append(obj)
    # Two links: the first with an empty symbol table, whose symbols
    # tools/ksyms.py writes into the second's (see tools/ksyms.py).
    ksyms = '$python $top/tools/ksyms.py --nm ${cross}nm'
    w(f'rule ksyms\n  command = {ksyms} -o $out $in\n  description = KSYMS $out')
    w('rule klink_final\n  command = ${cross}gcc $kldflags -o $out $in $klibs && '
      f'{{ {ksyms} --check $first $out || {{ rm -f $out; exit 1; }}; }}'
      '\n  description = LINK $out')
    w('build $builddir/ksyms-empty.S: ksyms | $top/tools/ksyms.py')
    w('build $builddir/kernel-obj/ksyms-empty.o: kcc $builddir/ksyms-empty.S')
    w(f'build $builddir/numbat-nosyms.elf: klink {" ".join(kobjs)} '
      '$builddir/kernel-obj/ksyms-empty.o | $top/kernel/kernel.ld')
    w('build $builddir/ksyms.S: ksyms $builddir/numbat-nosyms.elf | $top/tools/ksyms.py')
    w('build $builddir/kernel-obj/ksyms.o: kcc $builddir/ksyms.S')
    w(f'build $builddir/numbat.elf: klink_final {" ".join(kobjs)} $builddir/kernel-obj/ksyms.o'
      ' | $top/kernel/kernel.ld $builddir/numbat-nosyms.elf $top/tools/ksyms.py'
      '\n  first = $builddir/numbat-nosyms.elf')
    w('build $builddir/numbat.asm: kasm $builddir/numbat.elf')
    w('build kernel: phony $builddir/numbat.elf $builddir/numbat.asm')
    w('')
    lu_images(w, cc)

    # Host library: mm/ and the portable platform pieces, with sanitizers, and
    # again optimised without them for the benchmarks.
    hobjs, bobjs, fobjs = [], [], []
    hlib = host_sources() + sources('tests/host/lib/*.c')
    for src in hlib:
        stem = os.path.splitext(src)[0]
        cc(src, f'$builddir/host-obj/{stem}.o', 'hcflags')
        hobjs.append(f'$builddir/host-obj/{stem}.o')
        cc(src, f'$builddir/bench-obj/{stem}.o', 'bcflags')
        bobjs.append(f'$builddir/bench-obj/{stem}.o')
        if tools['clang'] and not src.startswith('tests/host/lib/'):
            cc(src, f'$builddir/fuzz-obj/{stem}.o', 'fcflags')
            fobjs.append(f'$builddir/fuzz-obj/{stem}.o')

    w(f'build $builddir/libhost.a: ar {" ".join(hobjs)}')
    w(f'build $builddir/libbench.a: ar {" ".join(bobjs)}')
    if fobjs:
        w(f'build $builddir/libfuzz.a: ar {" ".join(fobjs)}')

    host_tests = []
    for src in sources('tests/host/test_*.c'):
        name = os.path.splitext(os.path.basename(src))[0]
        cc(src, f'$builddir/host-obj/{os.path.splitext(src)[0]}.o', 'hcflags')
        w(f'build $builddir/host/{name}: hlink $builddir/host-obj/'
          f'{os.path.splitext(src)[0]}.o $builddir/libhost.a\n  ldflags = $hldflags')
        host_tests.append(f'$builddir/host/{name}')

    benches = []
    for src in sources('tests/bench/*.c'):
        name = os.path.splitext(os.path.basename(src))[0]
        obj = f'$builddir/bench-obj/{os.path.splitext(src)[0]}.o'
        cc(src, obj, 'bcflags')
        w(f'build $builddir/bench/{name}: hlink {obj} $builddir/libbench.a'
          '\n  ldflags = -lm')
        benches.append(f'$builddir/bench/{name}')

    fuzzers = []
    if tools['clang']:
        for src in sources('tests/fuzz/*_fuzz.c'):
            name = os.path.splitext(os.path.basename(src))[0]
            obj = f'$builddir/fuzz-obj/{os.path.splitext(src)[0]}.o'
            cc(src, obj, 'fcflags')
            w(f'build $builddir/fuzz/{name}: flink {obj} $builddir/libfuzz.a')
            fuzzers.append(f'$builddir/fuzz/{name}')

    dtbs = []
    for src in sources('tests/dts/*.dts'):
        name = os.path.splitext(os.path.basename(src))[0]
        w(f'build $builddir/dtb/{name}.dtb: dtc $top/{src}')
        dtbs.append(f'$builddir/dtb/{name}.dtb')
    # dtinfo: the machine the kernel would see in a tree (tools/dtinfo.c).
    cc('tools/dtinfo.c', '$builddir/host-obj/tools/dtinfo.o', 'hcflags')
    w('build $builddir/host/dtinfo: hlink $builddir/host-obj/tools/dtinfo.o '
      '$builddir/libhost.a\n  ldflags = $hldflags')
    host_tools = ['$builddir/host/dtinfo']
    w('build host: phony ' + ' '.join(host_tests + benches + fuzzers + dtbs + host_tools))
    w('')

    # Run, debug and test targets.
    everything = '$builddir/numbat.elf $builddir/numbat.asm host lu-images'
    targets = [
        ('qemu', f'$python {run_py} --interactive {machine} $builddir/numbat.elf',
         'QEMU (Ctrl-A X leaves)'),
        ('qemu-gdb', f'$python {run_py} --interactive --gdb $gdb_port {machine} '
                     '$builddir/numbat.elf',
         'QEMU waiting for gdb on port $gdb_port (run `ninja gdb` in another terminal)'),
        ('gdb', '$gdb -q -x $top/tools/gdbinit -ex "target remote localhost:$gdb_port" '
                '$builddir/numbat.elf', 'GDB'),
        ('check', f'$python $top/tests/run.py --build $builddir', 'CHECK every test'),
        ('bench', f'$python $top/tests/bench/run.py --build $builddir', 'BENCH'),
        ('fuzz', f'$python $top/tests/run.py --build $builddir --only fuzz '
                 '--fuzz-seconds 600', 'FUZZ the device-tree parser for 10 minutes'),
        # The grader builds its own pristine copy: no dependency here.
        # Exit 1 is a score below full marks, not a failed build step.
        ('grade', '$python $top/labs/grade.py || [ $$? -eq 1 ]', 'GRADE the lab (docs/labs.md)'),
        ('handouts', '$python $top/labs/handout.py --all-into $builddir/lab-handouts',
         'HANDOUTS of every lab into $builddir/lab-handouts'),
    ]
    for name, cmd, desc in targets:
        dep = '$builddir/numbat.elf' if name in ('qemu', 'qemu-gdb', 'gdb') else everything
        dep = '' if name in ('grade', 'handouts') else ' | ' + dep
        w(f'build {name}: run{dep}\n  cmd = {cmd}\n  desc = {desc}')
    w('')

    # Default and regeneration.
    w('default kernel')
    # build.ninja depends on configure.py and on every folder it globs: adding
    # or removing a source changes the folder's time stamp, and ninja then
    # runs configure.py again before building. tests/ itself is watched so
    # that a test folder created later (tests/bench, tests/fuzz) is noticed.
    read = ['$top/configure.py'] + [f'$top/{d}' for d in SOURCE_DIRS
                                    if os.path.isdir(os.path.join(TOP, d))]
    # Named relative to where ninja runs (the top, or the build folder with
    # -C): ninja only notices that it must regenerate its own manifest when
    # the edge's output is spelled the way ninja opened it.
    w(f'build build.ninja: configure | {" ".join(read)}')
    w('  confargs = ' + ' '.join(shlex.quote(a) for a in saved_args(args, argv)))
    with open(ninja_file(args), 'w') as f:
        f.write('\n'.join(out) + '\n')
    with open(os.path.join(os.path.dirname(ninja_file(args)),
                           'compile_commands.json'), 'w') as f:
        json.dump(commands, f, indent=1)


def lu_images(w, cc):
    """Live update's images (docs/liveupdate.md): an "old" kernel built
    with the old allocator rules (-DNUMBAT_OLD_RULES: MAX_ORDER 20), and
    raw binaries of both kernels, which a running kernel can take as its
    initrd and hand over to (`liveupdate image=initrd`)."""
    oobjs = []
    for src in kernel_sources():
        obj = f'$builddir/old-obj/{os.path.splitext(src)[0]}.o'
        cc(src, obj, 'kcflags')
        w('  kcflags = $kcflags -DNUMBAT_OLD_RULES')
        oobjs.append(obj)
    w('build $builddir/old-obj/ksyms-empty.o: kcc $builddir/ksyms-empty.S')
    w(f'build $builddir/numbat-old-nosyms.elf: klink {" ".join(oobjs)} '
      '$builddir/old-obj/ksyms-empty.o | $top/kernel/kernel.ld')
    w('build $builddir/ksyms-old.S: ksyms $builddir/numbat-old-nosyms.elf | $top/tools/ksyms.py')
    w('build $builddir/old-obj/ksyms.o: kcc $builddir/ksyms-old.S')
    w(f'build $builddir/numbat-old.elf: klink_final {" ".join(oobjs)} $builddir/old-obj/ksyms.o'
      ' | $top/kernel/kernel.ld $builddir/numbat-old-nosyms.elf $top/tools/ksyms.py'
      '\n  first = $builddir/numbat-old-nosyms.elf')
    w('rule kbin\n  command = ${cross}objcopy -O binary $in $out'
      '\n  description = OBJCOPY $out')
    w('build $builddir/numbat.bin: kbin $builddir/numbat.elf')
    w('build $builddir/numbat-old.bin: kbin $builddir/numbat-old.elf')
    w('build lu-images: phony $builddir/numbat-old.elf $builddir/numbat.bin '
      '$builddir/numbat-old.bin')
    w('')


def saved_args(args, argv):
    """The arguments to configure again with: the same ones, less
    --install-deps, with the build folder made absolute (ninja -C runs the
    regeneration from inside that folder)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == '--install-deps':
            pass
        elif a == '--builddir':
            skip = True
        elif not a.startswith('--builddir='):
            out.append(a)
    return out + ['--builddir', os.path.abspath(args.builddir)]


def expand(text):
    return text.replace('$top', TOP)


def main(argv):
    args = parse_args(argv)
    if args.install_deps:
        install_deps()
    tools = probe_tools(args)
    os.makedirs(os.path.abspath(args.builddir), exist_ok=True)
    write_ninja(args, tools, argv)
    print(f'configure: cross compiler {tools["cross"]}gcc, {tools["qemu"]}, '
          f'{tools["gdb"]}; wrote build.ninja ({"release" if args.release else "debug"} '
          f'build in {args.builddir}/).')
    if ninja_file(args) != os.path.join(TOP, 'build.ninja'):
        print(f'configure: this build folder has its own build.ninja: '
              f'use `ninja -C {args.builddir}`.')
    print('configure: now run `ninja` to build, `ninja qemu` to boot, '
          '`ninja check` to test.')


if __name__ == '__main__':
    main(sys.argv[1:])
