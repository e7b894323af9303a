#!/usr/bin/env python3
"""Device trees QEMU cannot make for us: staged and malformed blobs.

Some machines cannot be described with QEMU's -numa options. On QEMU 7.2
a NUMA node with memory but no harts fails every way ("discontinuous
hartids in socketN"), and `virt` takes at most 4 NUMA nodes ("number of
sockets/nodes should be less than 4"). So we stage them:

  1. ask QEMU for the tree it would give the guest
     (`-machine virt,dumpdtb=FILE` with the same -m/-smp/-numa options);
  2. decompile it with `dtc -I dtb -O dts`;
  3. rewrite the text: for `cpuless`, the upper half of the last memory
     bank moves to a new node with no harts; for `8node`, the upper half
     of each of the 4 nodes' banks becomes a node of its own (4 to 7, no
     harts); the distance map grows to match; for `nohart0`, cpu@0's
     status becomes "disabled";
  4. compile it back with dtc and boot with `-dtb FILE`.

QEMU still adds /chosen/bootargs and the initrd range to a -dtb tree, so
-append and -initrd keep working. The RAM QEMU emulates is unchanged; only
the kernel's view of which node owns it differs.

The same steps make blobs that are wrong on purpose, for the tests of the
kernel's device-tree checks (tests/qemu/test_badtree.py). A blob must
still get past QEMU (which parses it to add /chosen) and OpenSBI (which
walks it for the harts, the interrupt controllers and the UART) to reach
the kernel: so damage goes where they do not look, e.g. in memory nodes
moved to the end of the tree.

Every function returns the path of a .dtb in `workdir`; RuntimeError with
dtc's or QEMU's message when a step fails. Standard library only.
"""

import hashlib
import os
import re
import shutil
import subprocess
import threading

CPULESS_NODE = 2            # the node staged without harts
CPULESS_DISTANCES = {(0, 1): 20, (0, 2): 30, (1, 2): 20}
EIGHTNODE_NODES = 8         # nodes of the 8node stage (QEMU makes 4)


def _dtc():
    dtc = shutil.which('dtc')
    if not dtc:
        raise RuntimeError('dtc not found: sudo apt-get install device-tree-compiler')
    return dtc


def _check(cmd, what):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f'{what} failed (status {p.returncode}): '
                           f'{(p.stderr or p.stdout).strip()[:500]}')
    return p.stdout


def dump_qemu_dts(qemu, machine_args, workdir):
    """The device tree QEMU builds for these options, as dts text."""
    os.makedirs(workdir, exist_ok=True)
    key = hashlib.sha1(' '.join([qemu] + machine_args).encode()).hexdigest()[:12]
    dtb = os.path.join(workdir, f'qemu-{key}.dtb')
    if not os.path.exists(dtb):
        # Dump under a name of our own, then rename: parallel runs may
        # stage the same tree at the same time.
        tmp = f'{dtb}.{os.getpid()}.{threading.get_ident()}.tmp'
        args = list(machine_args)
        i = args.index('-machine')
        args[i + 1] += f',dumpdtb={tmp}'
        _check([qemu] + args + ['-nographic', '-display', 'none'], 'QEMU dumpdtb')
        os.replace(tmp, dtb)
    return _check([_dtc(), '-q', '-I', 'dtb', '-O', 'dts', dtb], 'dtc decompile')


def compile_dts(text, workdir, name):
    """dts text -> workdir/NAME.dtb (dtc warnings are not errors)."""
    os.makedirs(workdir, exist_ok=True)
    tag = f'{os.getpid()}.{threading.get_ident()}'
    src = os.path.join(workdir, f'{name}.{tag}.dts')
    out = os.path.join(workdir, name + '.dtb')
    with open(src, 'w') as f:
        f.write(text)
    _check([_dtc(), '-q', '-I', 'dts', '-O', 'dtb', '-o', f'{out}.{tag}', src],
           f'dtc {src}')
    os.replace(f'{out}.{tag}', out)
    os.remove(src)
    return out


MEM_RE = re.compile(r'(\tmemory@([0-9a-f]+) \{\n(?:\t\t[^\n]*\n)*?\t\};\n)')


def memory_nodes(dts):
    """[(text, base, size, node)] for every memory node of a dumped tree
    (QEMU's trees use 2 address and 2 size cells)."""
    out = []
    for m in MEM_RE.finditer(dts):
        text = m.group(1)
        reg = re.search(r'reg = <([^>]*)>', text).group(1).split()
        cells = [int(c, 16) for c in reg]
        nid = re.search(r'numa-node-id = <(0x[0-9a-f]+)>', text)
        out.append((text, (cells[0] << 32) | cells[1], (cells[2] << 32) | cells[3],
                    int(nid.group(1), 16) if nid else 0))
    return out


def memory_node_text(base, size, node):
    return (f'\tmemory@{base:x} {{\n\t\tnuma-node-id = <0x{node:x}>;\n'
            f'\t\tdevice_type = "memory";\n'
            f'\t\treg = <0x{base >> 32:x} 0x{base & 0xffffffff:x} '
            f'0x{size >> 32:x} 0x{size & 0xffffffff:x}>;\n\t}};\n')


def distance_matrix(distances, nodes):
    cells = []
    for a in range(nodes):
        for b in range(nodes):
            d = 10 if a == b else distances.get((min(a, b), max(a, b)), 20)
            cells += [a, b, d]
    return 'distance-matrix = <' + ' '.join(f'0x{c:x}' for c in cells) + '>;'


def cpuless_dts(dts):
    """Rewrite a dumped multi-node tree: the top half of the last bank goes
    to node CPULESS_NODE, which has no harts."""
    banks = memory_nodes(dts)
    if not banks:
        raise RuntimeError('the dumped tree has no memory node to split')
    text, base, size, node = banks[-1]
    half = (size // 2) & ~0x1fffff      # keep 2 MiB alignment
    new = (memory_node_text(base, half, node)
           + '\n' + memory_node_text(base + half, size - half, CPULESS_NODE))
    dts = dts.replace(text, new)
    dts, n = re.subn(r'distance-matrix = <[^>]*>;',
                     distance_matrix(CPULESS_DISTANCES, CPULESS_NODE + 1), dts)
    if n != 1:
        raise RuntimeError('the dumped tree has no distance-map to extend '
                           '(stage cpuless from a tree with at least 2 nodes)')
    return dts


def eightnode_distances():
    """{(a, b): d} for a < b of the 8-node staged machine: node n + 4 is the
    upper half of node n's socket; sockets sit on a ring of 4."""
    def socket_hops(a, b):
        d = abs(a % 4 - b % 4)
        return min(d, 4 - d)
    return {(a, b): (15 if socket_hops(a, b) == 0 else 20 if socket_hops(a, b) == 1
                     else 30)
            for a in range(EIGHTNODE_NODES) for b in range(a + 1, EIGHTNODE_NODES)}


def eightnode_dts(dts):
    """Rewrite a dumped 4-node tree into 8 nodes, past QEMU 7.2's limit of
    4 NUMA sockets on virt: the top half of node n's bank becomes node
    n + 4, which has no harts."""
    banks = memory_nodes(dts)
    if len(banks) != 4:
        raise RuntimeError(f'stage 8node from a 4-node tree (it has {len(banks)} '
                           'memory nodes)')
    for text, base, size, node in banks:
        half = (size // 2) & ~0x1fffff      # keep 2 MiB alignment
        dts = dts.replace(text, memory_node_text(base, half, node) + '\n'
                          + memory_node_text(base + half, size - half, node + 4))
    dts, n = re.subn(r'distance-matrix = <[^>]*>;',
                     distance_matrix(eightnode_distances(), EIGHTNODE_NODES), dts)
    if n != 1:
        raise RuntimeError('the dumped tree has no distance-map to extend')
    return dts


def nohart0_dts(dts):
    """Rewrite a dumped tree so that hart 0 is "disabled", as a board's
    monitor core is (the JH7110's S7): the harts an OS may use are 1 and
    up. OpenSBI leaves a hart the tree disables stopped, so it never
    becomes the boot hart either."""
    start = dts.find('\t\tcpu@0 {\n')
    end = dts.find('\n\t\t};\n', start)
    body = dts[start:end]
    if start < 0 or 'status = "okay";' not in body:
        raise RuntimeError('the dumped tree has no cpu@0 with status "okay" to disable')
    return dts[:start] + body.replace('status = "okay";', 'status = "disabled";') + dts[end:]


STAGES = {'cpuless': cpuless_dts, '8node': eightnode_dts, 'nohart0': nohart0_dts}


def stage(name, qemu, machine_args, workdir):
    """Stage the tree for topology step `name` (a key of STAGES); its .dtb path."""
    if name not in STAGES:
        raise RuntimeError(f'no staging step called {name!r}')
    dts = STAGES[name](dump_qemu_dts(qemu, machine_args, workdir))
    key = hashlib.sha1(dts.encode()).hexdigest()[:12]
    return compile_dts(dts, workdir, f'{name}-{key}')


def bad_memory_reg(qemu, machine_args, workdir):
    """QEMU's tree with the first memory node's reg cut to 3 cells (not a
    multiple of #address-cells + #size-cells = 4)."""
    dts = dump_qemu_dts(qemu, machine_args, workdir)
    text, base, size, node = memory_nodes(dts)[0]
    bad = re.sub(r'reg = <([^>]*)>',
                 lambda m: 'reg = <' + ' '.join(m.group(1).split()[:3]) + '>', text)
    return compile_dts(dts.replace(text, bad), workdir, 'bad-memory-reg')


def no_memory(qemu, machine_args, workdir):
    """QEMU's tree with every memory node removed: no RAM at all."""
    dts = dump_qemu_dts(qemu, machine_args, workdir)
    for text, *_ in memory_nodes(dts):
        dts = dts.replace(text, '')
    return compile_dts(dts, workdir, 'no-memory')


def truncated(qemu, machine_args, workdir, keep=0.5):
    """QEMU's blob cut to `keep` of its length (header left as it was)."""
    dts = dump_qemu_dts(qemu, machine_args, workdir)
    whole = compile_dts(dts, workdir, 'whole')
    with open(whole, 'rb') as f:
        blob = f.read()
    out = os.path.join(workdir, 'truncated.dtb')
    with open(out, 'wb') as f:
        f.write(blob[:int(len(blob) * keep)])
    return out


def truncated_struct(qemu, machine_args, workdir, cut=28):
    """QEMU's tree with its memory nodes moved last and the struct block cut
    `cut` bytes short in the header (size_dt_struct), so the blob ends in
    the middle of the last memory node's reg. QEMU and OpenSBI walk only as
    far as the nodes they need and pass it on; the kernel must refuse it."""
    dts = dump_qemu_dts(qemu, machine_args, workdir)
    mem = memory_nodes(dts)
    for text, *_ in mem:
        dts = dts.replace(text, '')
    end = dts.rindex('};')               # the root node's closing brace
    dts = dts[:end] + ''.join(text for text, *_ in mem) + dts[end:]
    with open(compile_dts(dts, workdir, 'memory-last'), 'rb') as f:
        blob = bytearray(f.read())
    size_struct = int.from_bytes(blob[36:40], 'big')   # header word 9
    blob[36:40] = (size_struct - cut).to_bytes(4, 'big')
    out = os.path.join(workdir, f'truncated-struct-{cut}.dtb')
    with open(out, 'wb') as f:
        f.write(bytes(blob))
    return out


def garbage_in_memory_node(qemu, machine_args, workdir, seed=3):
    """QEMU's tree with the memory nodes moved last and the bytes of the
    last one (from its FDT_BEGIN_NODE to the root's FDT_END_NODE) replaced
    by noise: a well-formed header around a garbage struct tail."""
    dts = dump_qemu_dts(qemu, machine_args, workdir)
    mem = memory_nodes(dts)
    for text, *_ in mem:
        dts = dts.replace(text, '')
    end = dts.rindex('};')
    dts = dts[:end] + ''.join(text for text, *_ in mem) + dts[end:]
    with open(compile_dts(dts, workdir, 'memory-last'), 'rb') as f:
        blob = bytearray(f.read())
    off_struct = int.from_bytes(blob[8:12], 'big')
    size_struct = int.from_bytes(blob[36:40], 'big')
    name = re.search(r'memory@([0-9a-f]+)', mem[-1][0]).group(0).encode() + b'\0'
    start = blob.rindex(name, off_struct, off_struct + size_struct) - 4
    stop = off_struct + size_struct - 8     # keep the root's END_NODE and FDT_END
    noise = bytes(_noise(stop - start, seed))
    blob[start:stop] = noise
    out = os.path.join(workdir, 'garbage-memory-node.dtb')
    with open(out, 'wb') as f:
        f.write(bytes(blob))
    return out


def _noise(size, seed):
    data, x = bytearray(), seed
    while len(data) < size:
        x = (x * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
        data += (x >> 33).to_bytes(4, 'little')
    return data[:size]


def garbage(workdir, size=4096, seed=1):
    """`size` bytes of deterministic noise: not a device tree at all."""
    os.makedirs(workdir, exist_ok=True)
    out = os.path.join(workdir, 'garbage.dtb')
    with open(out, 'wb') as f:
        f.write(bytes(_noise(size, seed)))
    return out
