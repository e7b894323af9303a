/*
 * kernel/lu_jump.S - the last instructions of a kernel that hands over
 * (kernel/liveupdate.c).
 *
 * lu_jump(j) runs in the kernel's text, with paging on. It loads a0..a7
 * from j (hart id, device tree, record, LU_HANDOVER_MAGIC, and dst, src,
 * len, entry for the copy), then turns paging off. The kernel's map is
 * the identity, so the next fetch, now at its physical address, is the
 * next instruction. With paging off, W^X no longer applies, and it jumps
 * to the trampoline, which lu_handover() copied into a heap frame
 * outside the image: the copy may overwrite the whole image, lu_jump
 * included.
 *
 * The trampoline (lu_tramp_start .. lu_tramp_end, position independent,
 * no stack, no memory but its arguments) copies len bytes (a multiple of
 * 8) from src to dst, makes the instruction fetches see them (fence.i),
 * and jumps to entry, the new kernel's _start, with a0..a3 as OpenSBI
 * would give them plus the record: a2 = record, a3 = the magic.
 */
    .text
    .globl lu_jump
    .align 2
lu_jump:                            /* a0 = struct lu_jump_args */
    ld      t1, 0(a0)               /* the trampoline's frame */
    ld      a1, 16(a0)
    ld      a2, 24(a0)
    ld      a3, 32(a0)
    ld      a4, 40(a0)
    ld      a5, 48(a0)
    ld      a6, 56(a0)
    ld      a7, 64(a0)
    ld      a0, 8(a0)               /* last: it held j */
    csrw    satp, zero              /* paging off: the identity map ends */
    sfence.vma
    jr      t1

    .globl lu_tramp_start, lu_tramp_end
    .align 3
lu_tramp_start:
1:  beqz    a6, 2f
    ld      t0, 0(a5)
    sd      t0, 0(a4)
    addi    a4, a4, 8
    addi    a5, a5, 8
    addi    a6, a6, -8
    j       1b
2:  fence   rw, rw
    fence.i
    jr      a7
lu_tramp_end:
