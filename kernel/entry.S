/*
 * kernel/entry.S - the first instructions, and the trap vector.
 *
 * OpenSBI jumps to _start on ONE hart (the boot hart, not always hart 0)
 * in S-mode, with the MMU off:
 *     a0 = this hart's id,  a1 = physical address of the device tree.
 * Before any C can run we need a stack and a zeroed .bss:
 *   1. turn interrupts off and point stvec at trap_entry;
 *   2. park a hart whose id is too large for our tables (it never runs C);
 *   3. claim the boot: the first hart here is the boot hart; a later one
 *      is a hart we started that OpenSBI sent here by mistake (below);
 *   4. zero .bss (the boot hart does it once, before the others start);
 *   5. sp = the top of hart_stacks[hartid].stack (kernel/smp.c);
 *   6. tp = this hart's struct hart (smp_boot_hart_setup), fp = 0 so that
 *      backtraces stop here;
 *   7. call kernel_main(hartid, dtb, a2, a3), which never returns; a2 and
 *      a3 carry a live update's record and magic (kernel/liveupdate.c),
 *      and anything at all after a cold boot.
 * The boot hart turns paging on later, in C (vm_init(), kernel/vm.c), once
 * the device tree has said where RAM and the devices are, and before any
 * lab code runs or any other hart starts.
 *
 * The other harts start at smp_secondary_entry, through SBI HSM, with
 * a1 = their struct hart, whose first two words are the tops of their
 * kernel stack and trap stack (see struct hart in kernel/smp.h). Their
 * first act is to switch to the kernel's page table (USE_KERNEL_MAP):
 * vm_init() left its satp value in vm_satp before any of them started.
 *
 * Why step 3: OpenSBI 1.1 (Debian 12's) marks a hart "start pending"
 * before it stores the start address we asked for. A waiting hart that
 * wakes in that window leaves the firmware with the address it was given
 * at cold boot, which is _start, and a1 = the device tree. Seen about once
 * in ten boots of the 8-hart machine. Left alone, that hart would zero
 * .bss under the running boot hart. So a hart that finds the boot already
 * claimed goes where it was meant to go: smp_secondary_entry, with its
 * own struct hart, which the boot hart filled in before asking SBI to
 * start it (and .bss was zeroed before that). It too switches to the
 * kernel's page table first.
 *
 * trap_entry saves every register in a struct trap_frame (kernel/trap.h)
 * on this hart's trap stack and calls trap_handler(frame). A separate
 * trap stack means a trap caused by a broken sp (say, a stack overflow
 * into the guard page below the kernel stack) can still be reported.
 * sscratch always holds the trap stack's top.
 */
#define FRAME_SIZE (36 * 8) /* sizeof(struct trap_frame) */
#define SEPC    (32 * 8)
#define SCAUSE  (33 * 8)
#define STVAL   (34 * 8)
#define SSTATUS (35 * 8)

/* sp = the top of hart s1's kernel stack: see kernel/smp.c's hart_stacks. */
.macro STACK_TOP_OF_S1
    la      sp, hart_stacks
    ld      t0, smp_stack_stride
    mul     t0, t0, s1
    add     sp, sp, t0
    ld      t0, smp_stack_top
    add     sp, sp, t0
.endm

/*
 * Switch this hart to the kernel's page table (kernel/vm.c). The map is
 * the identity on everything the kernel uses, so the next fetch is the
 * next instruction. sfence.vma drops any translation cached before.
 */
.macro USE_KERNEL_MAP
    ld      t0, vm_satp
    csrw    satp, t0
    sfence.vma
.endm

    .section .text.entry, "ax"
    .globl _start
_start:
    csrw    sie, zero               /* no interrupts, ever, on the boot path */
    la      t0, trap_entry
    csrw    stvec, t0
    ld      t0, smp_max_harts
    bgeu    a0, t0, park            /* hart id beyond our tables: park it */
    mv      s1, a0                  /* keep hartid and dtb across the loop */
    mv      s2, a1
    mv      s3, a2                  /* a live update's record and magic */
    mv      s4, a3                  /* (kernel/liveupdate.c) */
    la      t0, boot_claimed        /* the first hart here boots; see above */
    li      t1, 1
    amoswap.w.aqrl t1, t1, (t0)
    bnez    t1, late_secondary

    la      t0, __bss_start         /* zero .bss: [__bss_start, __bss_end) */
    la      t1, __bss_end
1:  bgeu    t0, t1, 2f
    sd      zero, 0(t0)
    addi    t0, t0, 8
    j       1b
2:
    STACK_TOP_OF_S1

    mv      a0, s1
    call    smp_boot_hart_setup     /* returns this hart's struct hart */
    mv      tp, a0
    ld      t0, 8(tp)               /* struct hart.trap_hi */
    csrw    sscratch, t0
    li      fp, 0                   /* the outermost frame: backtraces end here */
    mv      a0, s1
    mv      a1, s2
    mv      a2, s3
    mv      a3, s4
    call    kernel_main
park:
    wfi
    j       park

late_secondary:                     /* a0 = hartid; a1 is not ours: ignore it */
    fence   rw, rw                  /* see the boot hart's writes */
    USE_KERNEL_MAP
    STACK_TOP_OF_S1                 /* our own stack, still unused, for C */
    li      fp, 0
    mv      a0, s1
    call    smp_late_secondary      /* a0 = &harts[hartid] */
    mv      a1, a0
    mv      a0, s1
    j       smp_secondary_entry

    .data
    .align 2
    .globl boot_claimed             /* a live update's copy clears it */
boot_claimed:                       /* not .bss: it must survive the zeroing */
    .word   0

    .text
    .globl smp_secondary_entry
    .align 2
smp_secondary_entry:                /* a0 = hartid, a1 = struct hart */
    csrw    sie, zero
    USE_KERNEL_MAP
    la      t0, trap_entry
    csrw    stvec, t0
    mv      tp, a1
    ld      sp, 0(tp)               /* struct hart.stack_hi */
    ld      t0, 8(tp)               /* struct hart.trap_hi */
    csrw    sscratch, t0
    li      fp, 0
    mv      a0, tp
    call    smp_secondary_main
    j       park

/*
 * The trap vector (stvec, direct mode: 4-byte aligned). Swap sp with
 * sscratch to land on the trap stack, save x1..x31 and the trap CSRs,
 * then re-arm sscratch so that a trap inside the handler lands there too.
 */
    .globl trap_entry
    .align 4
trap_entry:
    csrrw   sp, sscratch, sp
    addi    sp, sp, -FRAME_SIZE
    sd x1,   1*8(sp)
    sd x3,   3*8(sp)
    sd x4,   4*8(sp)
    sd x5,   5*8(sp)
    sd x6,   6*8(sp)
    sd x7,   7*8(sp)
    sd x8,   8*8(sp)
    sd x9,   9*8(sp)
    sd x10, 10*8(sp)
    sd x11, 11*8(sp)
    sd x12, 12*8(sp)
    sd x13, 13*8(sp)
    sd x14, 14*8(sp)
    sd x15, 15*8(sp)
    sd x16, 16*8(sp)
    sd x17, 17*8(sp)
    sd x18, 18*8(sp)
    sd x19, 19*8(sp)
    sd x20, 20*8(sp)
    sd x21, 21*8(sp)
    sd x22, 22*8(sp)
    sd x23, 23*8(sp)
    sd x24, 24*8(sp)
    sd x25, 25*8(sp)
    sd x26, 26*8(sp)
    sd x27, 27*8(sp)
    sd x28, 28*8(sp)
    sd x29, 29*8(sp)
    sd x30, 30*8(sp)
    sd x31, 31*8(sp)
    csrr    t0, sscratch            /* the interrupted sp */
    sd      t0, 2*8(sp)
    csrr    t0, sepc
    sd      t0, SEPC(sp)
    csrr    t0, scause
    sd      t0, SCAUSE(sp)
    csrr    t0, stval
    sd      t0, STVAL(sp)
    csrr    t0, sstatus
    sd      t0, SSTATUS(sp)
    addi    t0, sp, FRAME_SIZE      /* re-arm: sscratch = trap stack top */
    csrw    sscratch, t0

    mv      a0, sp
    call    trap_handler            /* returns only for a trap it handled */

    ld      t0, SEPC(sp)
    csrw    sepc, t0
    ld      t0, SSTATUS(sp)
    csrw    sstatus, t0
    ld x1,   1*8(sp)
    ld x3,   3*8(sp)
    ld x4,   4*8(sp)
    ld x5,   5*8(sp)
    ld x6,   6*8(sp)
    ld x7,   7*8(sp)
    ld x8,   8*8(sp)
    ld x9,   9*8(sp)
    ld x10, 10*8(sp)
    ld x11, 11*8(sp)
    ld x12, 12*8(sp)
    ld x13, 13*8(sp)
    ld x14, 14*8(sp)
    ld x15, 15*8(sp)
    ld x16, 16*8(sp)
    ld x17, 17*8(sp)
    ld x18, 18*8(sp)
    ld x19, 19*8(sp)
    ld x20, 20*8(sp)
    ld x21, 21*8(sp)
    ld x22, 22*8(sp)
    ld x23, 23*8(sp)
    ld x24, 24*8(sp)
    ld x25, 25*8(sp)
    ld x26, 26*8(sp)
    ld x27, 27*8(sp)
    ld x28, 28*8(sp)
    ld x29, 29*8(sp)
    ld x30, 30*8(sp)
    ld x31, 31*8(sp)
    ld x2,   2*8(sp)                /* sp last: it is the base of the frame */
    sret
