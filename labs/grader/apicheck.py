"""Holding a lab's files to the API its lab.json lists.

A lab file is linked into the host test programs and into the kernel, so
it could reach anything they hold: make the test harness's failure
function return at once, print a report of its own and exit, redefine
printf, or, in the kernel, read the boot arguments and power off. The
grader does not run a submission until its lab files pass this check:

  1. the compiled objects, host and RISC-V (BUILD/host-obj/FILE.o and
     BUILD/kernel-obj/FILE.o, read by the small ELF reader at the end of
     this file: its fields are exact, with no tool's text to parse):
     - every undefined symbol is in the lab's "api" ("calls", "data", or
       one of the lab's own "defines", from its other file), or is one
       that the compiler emits on its own (COMPILER_EMITTED, below);
     - every global or weak symbol it defines is in "defines", and is a
       function: a lab file cannot replace printf, malloc or ktest_fail;
     - every section is one the compiler chooses for ordinary C
       (TEXT_SECTIONS, DATA_SECTIONS, INFO_SECTIONS): no constructor or
       destructor tables, no named sections, no executable data, no
       executable stack;
  2. the source, preprocessed with the build's own flags (through `run`,
     since it is the student's file), in the lines that come from the lab
     file itself (headers of the tree are trusted):
     - no inline assembly (`asm`, `__asm`, `__asm__`);
     - no constructor, destructor, section, alias or sanitizer-disabling
       attribute, no builtin that reaches outside the function's own
       frame, no name the compiler's instrumentation reserves;
     - it includes only headers of include/numbat/ and mm/ and the
       freestanding standard headers (the rule that mm/ includes nothing
       from kernel/ or platform/, whose inline functions hold assembly);
       no absolute or `..` path (the raw text is read for those before
       the preprocessor ever opens them), no `#line`.

docs/labs.md ("The lab API") says how an instructor changes the lists and
what this does not catch. Standard library only.
"""

import fnmatch
import json
import os
import random
import re
import shlex
import struct

from grader.proc import run_capped

# --- what the compiler emits on its own (the one place for it) ---------------------------

# Undefined symbols any lab object may have because the compiler put them
# there, whatever the lab: struct copies and initialisers, the sanitizers'
# entry points in the host build (ASan's checks and its module constructor,
# UBSan's reports), the stack protector where a distribution turns it on,
# the GOT of a position-independent host object (a function's address), and
# libgcc's integer helpers in the kernel build. Globs (fnmatch). The
# lab's source may not name the instrumentation symbols itself
# (RESERVED_NAMES), so these are reached only the way the compiler does.
COMPILER_EMITTED = {
    'host': ['memset', 'memcpy', 'memmove',
             '__asan_report_*', '__asan_load*', '__asan_store*', '__asan_handle_no_return',
             '__asan_init', '__asan_version_mismatch_check_v*', '__asan_register_globals',
             '__asan_unregister_globals', '__asan_stack_malloc_*', '__asan_stack_free_*',
             '__asan_option_detect_stack_use_after_return', '__asan_set_shadow_*',
             '__asan_alloca_poison', '__asan_allocas_unpoison', '__asan_memcpy',
             '__asan_memset', '__asan_memmove', '__ubsan_handle_*',
             '__stack_chk_fail', '__stack_chk_fail_local', '__stack_chk_guard',
             '_GLOBAL_OFFSET_TABLE_'],
    'kernel': ['memset', 'memcpy', 'memmove',
               '__clz[sdt]i2', '__ctz[sdt]i2', '__ffs[sdt]i2', '__popcount[sdt]i2',
               '__parity[sdt]i2', '__bswap[sd]i2', '__ashl[dt]i3', '__ashr[dt]i3',
               '__lshr[dt]i3', '__mul[dt]i3', '__div[dt]i3', '__udiv[dt]i3', '__mod[dt]i3',
               '__umod[dt]i3', '__udivmod[dt]i4'],
}
# Symbols the compiler defines in a lab object: ASan's ODR indicators.
COMPILER_DEFINED = {'host': ['__odr_asan.*'], 'kernel': []}
# ASan's module constructor and destructor (local functions named so),
# the only entries a host object's init/fini tables may hold.
ASAN_CDTOR = re.compile(r'_sub_[ID]_00099_\d+$')
ASAN_CDTOR_SECTIONS = {'.init_array.00099', '.fini_array.00099'}

# Sections the compiler chooses for ordinary C, by kind. Globs.
TEXT_SECTIONS = ['.text', '.text.unlikely', '.text.hot']
DATA_SECTIONS = ['.data', '.bss', '.rodata', '.rodata.str*', '.rodata.cst*', '.data.rel',
                 '.data.rel.local', '.data.rel.ro', '.data.rel.ro.local', '.sdata', '.sbss',
                 '.srodata', '.srodata.cst*']
INFO_SECTIONS = ['.debug_*', '.comment', '.note.GNU-stack', '.note.gnu.property', '.eh_frame',
                 '.riscv.attributes', '.symtab', '.strtab', '.shstrtab']

# --- what the lab's own source may not say -------------------------------------------------

ASM_WORDS = {'asm', '__asm', '__asm__'}
# Attributes (with or without the __x__ spelling) that place code where it
# runs by itself, rename or alias symbols, or turn the sanitizers off.
FORBIDDEN_ATTRIBUTES = {'constructor', 'destructor', 'section', 'alias', 'weakref', 'ifunc',
                        'naked', 'symver', 'no_sanitize', 'no_sanitize_address',
                        'no_address_safety_analysis', 'no_sanitize_undefined',
                        'no_sanitize_thread', 'no_stack_protector', 'interrupt'}
# Builtins that read or change the caller's frame or jump outside the
# function (a return address rewritten skips a test's check).
FORBIDDEN_BUILTINS = {'__builtin_frame_address', '__builtin_return_address',
                      '__builtin_extract_return_addr', '__builtin_frob_return_addr',
                      '__builtin_eh_return', '__builtin_eh_return_data_regno',
                      '__builtin_setjmp', '__builtin_longjmp', '__builtin_apply',
                      '__builtin_apply_args', '__builtin_return', '__builtin_unwind_init',
                      '__builtin_dwarf_cfa', '__builtin___clear_cache', '__builtin_stack_save',
                      '__builtin_stack_restore'}
# Names the compiler's instrumentation uses: COMPILER_EMITTED lets them
# through in objects, so the source may not write them.
RESERVED_NAMES = re.compile(r'__asan_|__ubsan_|__sanitizer_|__stack_chk_|_sub_[ID]_|__odr_asan')
# Headers a lab file may include besides include/numbat/*.h and mm/*.h.
FREESTANDING_HEADERS = {'stddef.h', 'stdint.h', 'stdbool.h', 'stdarg.h', 'limits.h',
                        'stdalign.h', 'stdnoreturn.h', 'iso646.h'}
LAB_HEADER_DIRS = ['include/numbat', 'mm']

BUILDS = ('host', 'kernel')
OBJ_DIRS = {'host': 'host-obj', 'kernel': 'kernel-obj'}
EXPECTED_MACHINE = {'kernel': 243}          # EM_RISCV; the host's is whatever it is
CPP_TIMEOUT = 30                            # seconds to preprocess one file
CPP_MEMORY = 2 << 30                        # bytes of address space for it
MAX_BYTES = 32 << 20                        # an object or source larger is refused


class ApiCheckError(Exception):
    """The check itself cannot run (a missing object, a broken rubric):
    the grader's problem, never a student's score."""


def check_lab(rubric, tree, build, run=None):
    """The reasons the lab's files break the API their lab.json lists, one
    line each ("mm/buddy.c calls mprotect, which lab buddy may not use
    ..."); empty when they keep to it. rubric: labtool.load_rubric(); tree:
    the tree with the submission's lab files in it; build: the folder with
    its compiled objects; run(cmd, timeout) -> (status, output) runs the
    preprocessor (default: a plain subprocess with limits). Raises
    ApiCheckError if the check cannot be made."""
    run = run or run_plain
    api = lab_api(rubric)
    commands = compile_commands(build, tree)
    reasons = []
    for rel in rubric['files']:
        found = check_source(rel, api, tree, commands, run)
        for kind in BUILDS:
            found += check_object(rel, kind, api, build)
        for r in found:             # the host and the kernel build often agree
            if r not in reasons:
                reasons.append(r)
    return reasons


# --- the lab's API --------------------------------------------------------------------------

class Api:
    def __init__(self, lab, defines, calls, data):
        self.lab = lab
        self.defines = set(defines)
        self.uses = set(calls) | set(data) | self.defines
        self.where = f'see labs/{lab}/lab.json "api"'


def lab_api(rubric):
    lab = rubric.get('lab', '?')
    api = rubric.get('api')
    where = f'labs/{lab}/lab.json'
    if not isinstance(api, dict):
        raise ApiCheckError(f'{where}: no "api": list what the lab\'s files may define, call '
                            'and refer to (docs/labs.md, "The lab API")')
    lists = {}
    for key in ('defines', 'calls', 'data'):
        v = api.get(key, [])
        if not isinstance(v, list) or not all(isinstance(s, str) and s for s in v):
            raise ApiCheckError(f'{where}: "api" "{key}" must be a list of symbol names')
        lists[key] = v
    unknown = set(api) - {'defines', 'calls', 'data', 'comment'}
    if unknown:
        raise ApiCheckError(f'{where}: "api" has unknown keys {sorted(unknown)}; '
                            'the keys are defines, calls, data, comment')
    return Api(lab, **lists)


def matches(name, globs):
    return any(fnmatch.fnmatchcase(name, g) for g in globs)


# --- the compile commands -------------------------------------------------------------------

def compile_commands(build, tree):
    """compile_commands.json of the build: beside build.ninja, which is in
    the build folder (or the tree's top for the default build/)."""
    places = [build]
    if os.path.abspath(build) == os.path.join(os.path.abspath(tree), 'build'):
        places.append(tree)
    for d in places:
        p = os.path.join(d, 'compile_commands.json')
        if os.path.isfile(p):
            with open(p) as f:
                return json.load(f)
    raise ApiCheckError(f'no compile_commands.json in {build}: configure the build first')


def command_for(commands, rel, kind):
    """The compile entry of lab file rel in the host or kernel build."""
    want = f'/{OBJ_DIRS[kind]}/{os.path.splitext(rel)[0]}.o'
    for e in commands:
        if e['output'].endswith(want) and e['file'].endswith('/' + rel):
            return e
    raise ApiCheckError(f'{rel}: no {kind} compile command in compile_commands.json')


# --- the source -----------------------------------------------------------------------------

def check_source(rel, api, tree, commands, run):
    path = os.path.join(tree, rel)
    with open(path, 'rb') as f:
        text = f.read(MAX_BYTES).decode('utf-8', 'replace')
    reasons = raw_source_reasons(rel, text)
    if reasons:                 # never hand the preprocessor a path it must not open
        return reasons
    for kind in BUILDS:
        e = command_for(commands, rel, kind)
        pre, reason = preprocess(e, rel, kind, run)
        if reason:
            reasons.append(reason)
            continue
        for r in token_reasons(rel, pre, e['directory']):
            if r not in reasons:
                reasons.append(r)
    return reasons


def logical_lines(text):
    """The lines of a C file as the preprocessor sees them: line splices
    joined, comments one space, each with the physical line it starts on.
    (line, text, raw): raw says the line starts a raw string literal (a
    GNU extension), which the caller refuses rather than guess where it
    ends."""
    out, cur, start, line, raw = [], [], 1, 1, False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '\\' and SPLICE.match(text, i):
            i, line = SPLICE.match(text, i).end(), line + 1
            continue
        if c == '\n':
            out.append((start, ''.join(cur), raw))
            cur, i, line, raw = [], i + 1, line + 1, False
            start = line
            continue
        if text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
            line += text.count('\n', i, j)
            cur.append(' ')
            i = j
            continue
        if text.startswith('//', i):
            while i < n and text[i] != '\n':
                splice = SPLICE.match(text, i)
                i, line = (splice.end(), line + 1) if splice else (i + 1, line)
            continue
        m = re.match(r'(?:u8|[uUL])?R"', text[i:i + 4])
        if m and not (cur and re.match(r'[A-Za-z0-9_$]', cur[-1][-1:])):
            raw = True
            cur.append(' ')
            i += m.end()
            continue
        if c in '"\'':             # to its closing quote, or the end of the line
            j = i + 1
            while j < n and text[j] not in (c, '\n'):
                line += text.startswith('\\\n', j)
                j += 2 if text[j] == '\\' else 1
            j = min(j + (j < n and text[j] == c), n)
            cur.append(text[i:j])
            i = j
            continue
        cur.append(c)
        i += 1
    out.append((start, ''.join(cur), raw))
    return out


SPLICE = re.compile(r'\\[ \t]*\r?\n')
DIRECTIVE = re.compile(r'^\s*(?:#|%:)\s*(\w*)(.*)$')
HAS_INCLUDE = re.compile(r'__has_include(?:_next)?(?:__)?\s*\(\s*([<"][^>"]*[>"])')


def raw_source_reasons(rel, text):
    """What can be seen before preprocessing: bad include paths, #line and
    line markers (they would hide which file a line comes from), raw
    strings."""
    reasons = []
    for line, l, raw in logical_lines(text):
        if raw:
            reasons.append(f'{rel}:{line} has a raw string literal (R"..."), which lab files '
                           'may not use')
        m = DIRECTIVE.match(l)
        if not m:
            names = HAS_INCLUDE.findall(l)
        elif m.group(1) in ('include', 'include_next', 'import', 'embed'):
            names = [m.group(2).strip()]
            if not re.fullmatch(r'<[^<>]*>|"[^"]*"', names[0]):
                reasons.append(f'{rel}:{line} has #{m.group(1)} {names[0]}: name one header in '
                               'quotes or angle brackets (not through a macro)')
                continue
        elif m.group(1) == 'line' or m.group(1).isdigit():
            reasons.append(f'{rel}:{line} has a #line directive, which lab files may not use')
            continue
        else:
            names = HAS_INCLUDE.findall(l)
        for name in names:
            bad = bad_include(name[1:-1])
            if bad:
                reasons.append(f'{rel}:{line} includes {name}: {bad}')
    return reasons


def bad_include(name):
    if name.startswith('/') or '\\' in name:
        return 'an absolute path; a lab file may include only headers of the tree'
    if '..' in name.split('/'):
        return 'a path with ".."; a lab file may include only headers of the tree'
    if not name.endswith('.h'):
        return 'not a header (.h); a lab file may include only headers of the tree'
    return None


def preprocess(entry, rel, kind, run):
    """Run the build's compile command with -E through run, the text on
    standard output (a sandbox may keep every folder read-only) and
    nothing on standard error (no diagnostic mixed into the text); a
    per-run nonce after it shows that the text came back whole. (text,
    None) or (None, reason)."""
    argv = [a for a in shlex.split(entry['command']) if a != '-c'] + ['-E']
    nonce = random.SystemRandom().randrange(10**15, 10**16)
    end = f'# apicheck end {nonce}\n'
    script = f'exec 2>/dev/null; "$@" && echo "{end.strip()}"'
    status, output = run(['sh', '-c', script, 'sh'] + argv, CPP_TIMEOUT)
    if status != 0:
        return None, f'{rel} could not be preprocessed for the {kind} build (status {status})'
    if not output.endswith(end):
        return None, f'{rel}: its preprocessed text for the {kind} build was cut off (too long?)'
    return output[:-len(end)], None


TOKEN = re.compile(r'''
    (?P<nl>\n)
  | (?P<marker>(?<![^\n])\#[^\n]*)
  | (?P<raw>(?:u8|[uUL])?R"(?P<delim>[^()\\\s]{0,16})\((?:.|\n)*?\)(?P=delim)")
  | (?P<str>(?:u8|[uUL])?"(?:[^"\\\n]|\\.)*"?)
  | (?P<chr>[uUL]?'(?:[^'\\\n]|\\.)*'?)
  | (?P<id>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<num>\.?[0-9](?:[eEpP][+-]|[A-Za-z0-9_.$])*)
  | (?P<punct>\[\[|\]\]|\S)
  | (?P<ws>[ \t\r\f\v]+)
''', re.X)
# GCC's line markers, exactly as it prints them (column 0).
LINEMARKER = re.compile(r'# (\d+) "((?:[^"\\]|\\.)*)"((?: \d+)*)$')


def lab_tokens(pre):
    """(line, kind, text) of each token of the preprocessed text that comes
    from the lab file itself, and the files the lab file includes directly.
    Line markers with flag 1 enter an include and 2 leave it; at depth 0,
    "<built-in>" and "<command-line>" are the compiler's own (they include
    stdc-predef.h), anything else is the lab file: #line is refused before
    preprocessing, so nothing else can be named there."""
    depth, line, tokens, includes, outer = 0, 1, [], [], True
    for m in TOKEN.finditer(pre):
        kind = m.lastgroup
        if kind == 'nl':
            line += 1
            continue
        if kind == 'marker':
            lm = LINEMARKER.match(m.group())
            if lm:
                flags = lm.group(3).split()
                if '1' in flags:
                    if depth == 0 and not outer:
                        includes.append(lm.group(2))
                    depth += 1
                elif '2' in flags:
                    depth = max(0, depth - 1)
                if depth == 0:
                    outer = re.fullmatch(r'<[^>]*>', lm.group(2)) is not None
                line = int(lm.group(1)) - 1
            continue
        if depth == 0 and not outer and kind != 'ws':
            tokens.append((line, kind, m.group()))
    return tokens, includes


def token_reasons(rel, pre, seen_tree):
    tokens, includes = lab_tokens(pre)
    reasons = []

    def add(r):
        if r not in reasons:
            reasons.append(r)

    for inc in includes:
        why = header_refused(inc, seen_tree)
        if why:
            shown = os.path.relpath(inc, seen_tree) if inc.startswith(seen_tree + '/') else inc
            add(f'{rel} includes {shown}: {why}')
    for k, (line, kind, text) in enumerate(tokens):
        if kind == 'raw':
            add(f'{rel}:{line} has a raw string literal (R"..."), which lab files may not use')
        elif text in ('__attribute__', '__attribute', '[['):
            for name in attribute_names(tokens, k + 1, text == '[['):
                add(f'{rel}:{line} uses the attribute {name}, which lab files may not use')
        elif kind != 'id':
            continue
        elif text in ASM_WORDS:
            add(f'{rel}:{line} uses inline assembly ({text}), which lab files may not use')
        elif text in FORBIDDEN_BUILTINS:
            add(f'{rel}:{line} uses {text}, which reaches outside the function; lab files may '
                'not use it')
        elif RESERVED_NAMES.match(text):
            add(f'{rel}:{line} names {text}: the compiler\'s instrumentation reserves that name')
    return reasons


def attribute_names(tokens, k, std):
    """The forbidden attribute names in the attribute list that starts at
    tokens[k]: `((...))` after __attribute__, or up to the `]]` that closes
    a `[[` (std). Only parentheses nest; `]]` inside them is an index."""
    parens, found = 0, []
    for _, kind, text in tokens[k:]:
        if text == '(':
            parens += 1
        elif text == ')':
            parens -= 1
        elif kind == 'id' and text.strip('_') in FORBIDDEN_ATTRIBUTES:
            found.append(text)
        if (std and text == ']]' and parens <= 0) or (not std and parens <= 0):
            break
    return found


def header_refused(path, seen_tree):
    """Why the lab file may not include the header at path (as the
    preprocessor found it), or None."""
    norm = os.path.normpath(path)
    for d in LAB_HEADER_DIRS:
        base = os.path.join(seen_tree, d) + os.sep
        if norm.startswith(base) and norm.endswith('.h'):
            return None
    if not norm.startswith(os.path.normpath(seen_tree) + os.sep) \
            and os.path.basename(norm) in FREESTANDING_HEADERS:
        return None
    return ('a lab file may include only headers of include/numbat/ and mm/ and '
            + ', '.join(f'<{h}>' for h in sorted(FREESTANDING_HEADERS)))


# --- the objects ------------------------------------------------------------------------------

def check_object(rel, kind, api, build):
    obj = os.path.join(build, OBJ_DIRS[kind], os.path.splitext(rel)[0] + '.o')
    if not os.path.isfile(obj):
        raise ApiCheckError(f'{rel}: no {kind} object {obj}: build it before the API check')
    try:
        elf = Elf(obj)
        if kind in EXPECTED_MACHINE and elf.machine != EXPECTED_MACHINE[kind]:
            return [f'{rel}: its {kind} object is for machine {elf.machine}, not RISC-V']
        return symbol_reasons(rel, kind, api, elf) + section_reasons(rel, kind, elf)
    except (ElfError, struct.error, IndexError, ValueError) as e:
        return [f'{rel}: its {kind} object is not one the compiler makes ({e})']


def symbol_reasons(rel, kind, api, elf):
    reasons = []
    calls = elf.called_symbols()
    for s in elf.symbols:
        if not s.name or s.type in (STT_SECTION, STT_FILE):
            continue
        if s.shndx == SHN_UNDEF:
            if s.name in api.uses or matches(s.name, COMPILER_EMITTED[kind]):
                continue
            verb = 'calls' if s.name in calls else 'refers to'
            reasons.append(f'{rel} {verb} {s.name}, which lab {api.lab} may not use '
                           f'(allowed: {api.where})')
        elif s.bind != STB_LOCAL:
            if s.type == STT_GNU_IFUNC:
                reasons.append(f'{rel} defines {s.name} as an indirect function (ifunc), which '
                               'lab files may not')
            elif s.name in api.defines:
                if s.type != STT_FUNC:
                    reasons.append(f'{rel} defines {s.name} as data, not as a function, which '
                                   'lab files may not')
            elif not matches(s.name, COMPILER_DEFINED[kind]):
                reasons.append(f'{rel} defines {s.name}, which is not one of lab {api.lab}\'s '
                               f'own functions: make it static ({api.where} "defines")')
    return reasons


def section_reasons(rel, kind, elf):
    reasons = []
    for sec in elf.sections[1:]:
        name, flags = sec.name, sec.flags
        if sec.type in (SHT_RELA, SHT_REL):
            continue                # judged with the section it applies to
        if sec.type in (SHT_INIT_ARRAY, SHT_FINI_ARRAY, SHT_PREINIT_ARRAY) or \
                re.match(r'\.(init|fini|preinit)_array|\.ctors|\.dtors', name):
            if kind == 'host' and name in ASAN_CDTOR_SECTIONS and elf.only_asan_cdtors(sec):
                continue
            reasons.append(f'{rel} has a {name} section: a constructor or destructor (code '
                           'that runs before or after the tests), which lab files may not have')
        elif name.startswith('.text.startup') or name.startswith('.text.exit'):
            reasons.append(f'{rel} has a {name} section: constructor or destructor code, '
                           'which lab files may not have')
        elif matches(name, TEXT_SECTIONS):
            if flags & SHF_WRITE:
                reasons.append(f'{rel} has writable code (section {name})')
        elif matches(name, DATA_SECTIONS) or matches(name, INFO_SECTIONS):
            if flags & SHF_EXECINSTR:
                what = 'an executable stack' if name == '.note.GNU-stack' \
                    else f'executable data (section {name})'
                reasons.append(f'{rel} has {what}, which lab files may not have')
        else:
            reasons.append(f'{rel} puts code or data in section {name!r}, which the compiler '
                           'did not choose (__attribute__((section)) is not for lab files)')
    return reasons


# --- a small ELF reader (64-bit little-endian relocatable objects) ---------------------------

SHT_SYMTAB, SHT_RELA, SHT_REL = 2, 4, 9
SHT_INIT_ARRAY, SHT_FINI_ARRAY, SHT_PREINIT_ARRAY = 14, 15, 16
SHF_WRITE, SHF_EXECINSTR = 0x1, 0x4
STB_LOCAL = 0
STT_FUNC, STT_SECTION, STT_FILE, STT_GNU_IFUNC = 2, 3, 4, 10
SHN_UNDEF = 0
# Relocation types that are calls (or tail calls), by machine.
CALL_RELOCS = {62: {4}, 243: {17, 18, 19}, 183: {282, 283}}   # x86-64, RISC-V, AArch64


class ElfError(Exception):
    pass


class Section:
    def __init__(self, name, type, flags, offset, size, link, info, entsize):
        self.name, self.type, self.flags = name, type, flags
        self.offset, self.size, self.link, self.info, self.entsize = \
            offset, size, link, info, entsize


class Symbol:
    def __init__(self, name, info, shndx, value):
        self.name, self.bind, self.type = name, info >> 4, info & 0xf
        self.shndx, self.value = shndx, value


class Elf:
    """The sections, symbols and relocations of one object file."""

    def __init__(self, path):
        with open(path, 'rb') as f:
            self.data = data = f.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES or len(data) < 64 or data[:4] != b'\x7fELF':
            raise ElfError('not an ELF file of a sensible size')
        if data[4] != 2 or data[5] != 1:
            raise ElfError('not 64-bit little-endian')
        (etype, self.machine, _, _, _, shoff, _, _, _, _, shentsize, shnum,
         shstrndx) = struct.unpack_from('<HHIQQQIHHHHHH', data, 16)
        if etype != 1 or shentsize != 64 or shnum == 0 or shstrndx >= shnum:
            raise ElfError('not a relocatable object with section headers')
        raw = [struct.unpack_from('<IIQQQQIIQQ', data, shoff + 64 * i) for i in range(shnum)]
        names = raw[shstrndx]
        self.sections = [Section(self.cstr(names[4] + h[0]), h[1], h[2], h[4], h[5], h[6],
                                 h[7], h[9]) for h in raw]
        self.symbols, self.symtab = [], None
        for sec in self.sections:
            if sec.type == SHT_SYMTAB:
                self.symtab = sec
                strtab = self.sections[sec.link].offset
                for off in range(sec.offset, sec.offset + sec.size, 24):
                    name, info, _, shndx, value, _ = struct.unpack_from('<IBBHQQ', data, off)
                    self.symbols.append(Symbol(self.cstr(strtab + name), info, shndx, value))

    def cstr(self, off):
        end = self.data.find(b'\0', off)
        if off >= len(self.data) or end < 0:
            raise ElfError('a name outside the file')
        return self.data[off:end].decode('utf-8', 'replace')

    def relocations(self, target):
        """(offset, type, symbol, addend) of the relocations that apply to
        section index target."""
        out = []
        for sec in self.sections:
            if sec.type not in (SHT_RELA, SHT_REL) or sec.info != target:
                continue
            size = 24 if sec.type == SHT_RELA else 16
            for off in range(sec.offset, sec.offset + sec.size, size):
                if sec.type == SHT_RELA:
                    r_off, info, addend = struct.unpack_from('<QQq', self.data, off)
                else:
                    (r_off, info), addend = struct.unpack_from('<QQ', self.data, off), 0
                sym = info >> 32
                if sym >= len(self.symbols):
                    raise ElfError('a relocation against no symbol')
                out.append((r_off, info & 0xffffffff, self.symbols[sym], addend))
        return out

    def called_symbols(self):
        kinds = CALL_RELOCS.get(self.machine, set())
        return {s.name for i in range(len(self.sections))
                for _, t, s, _ in self.relocations(i) if t in kinds}

    def only_asan_cdtors(self, sec):
        """Whether every entry of the init/fini table sec points at ASan's
        module constructor or destructor (a local function _sub_I/D_...)."""
        index = self.sections.index(sec)
        relocs = self.relocations(index)
        if not relocs or len(relocs) * 8 != sec.size:
            return False
        for _, _, sym, addend in relocs:
            if sym.type == STT_SECTION:
                at = [s for s in self.symbols if s.type == STT_FUNC and s.shndx == sym.shndx
                      and s.value == addend]
            else:
                at = [sym] if addend == 0 else []
            if not at or not all(s.bind == STB_LOCAL and ASAN_CDTOR.match(s.name) for s in at):
                return False
        return True


# --- running a tool --------------------------------------------------------------------------

def run_plain(cmd, timeout):
    """The default run: run_capped (a time limit, a cap on output, the
    whole process group gone at the end), with limits on memory, file size
    and CPU time set by the shell (a preexec function is unsafe in the
    grader's threads); (status, output)."""
    limits = (f'ulimit -v {CPP_MEMORY >> 10}; ulimit -f {(2 * MAX_BYTES) >> 10}; '
              f'ulimit -t {int(timeout) + 1}; exec "$@"')
    try:
        status, output, timed_out, _ = run_capped(['sh', '-c', limits, 'sh'] + list(cmd),
                                                  timeout)
    except OSError as e:
        return 127, str(e)
    return (-9, f'timed out after {timeout} s') if timed_out else (status, output)
