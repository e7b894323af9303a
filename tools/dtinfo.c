/*
 * tools/dtinfo.c - the machine Numbat would see in a device tree blob,
 * without booting it.
 *
 *     build/host/dtinfo FILE.dtb
 *
 * reads the blob with the kernel's own parser (platform/dt_machine.c) and
 * prints the kernel's own boot lines for it (platform/machine_print.c):
 * `machine:`, `bank:`, `reserved:`, `harts:` and `distance:`, shaped as
 * docs/boot-output.md says. An instructor checks a board's tree with it
 * before any student boots it; a tree the kernel would refuse is refused
 * here with the same reason.
 *
 * What a boot prints and dtinfo cannot: the `reserved:` lines of the
 * kernel image and of the blob itself, which the kernel adds where it
 * was loaded (kernel/board.c), and the initrd's range when QEMU adds
 * one to /chosen at boot.
 *
 * Exit status: 0 with the lines on stdout; 1 when the file cannot be read
 * or the tree is refused; 2 for a wrong command line. Every error is one
 * line on stderr that names the file and the problem.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <numbat/errno.h>

#include "kernel/board.h" /* BOARD_DTB_MAX_SIZE: what the kernel accepts */
#include "platform/machine.h"

/* A file read whole, in a heap buffer of exactly its size. */
struct blob {
    unsigned char *data; /* the bytes (malloc) */
    size_t size;         /* how many */
};

static int usage(void)
{
    fprintf(stderr, "usage: dtinfo FILE.dtb: give one compiled device tree "
                    "(make one with dtc -I dts -O dtb -o FILE.dtb FILE.dts)\n");
    return 2;
}

/* Read `path` whole into *b; on failure print why and return -1. */
static int read_blob(const char *path, struct blob *b)
{
    struct stat st;
    FILE *f = fopen(path, "rb");
    long size;

    if (!f) {
        fprintf(stderr, "dtinfo: %s: cannot open: %s\n", path, strerror(errno));
        return -1;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) ||
        fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0) {
        fprintf(stderr, "dtinfo: %s: not a regular file: give a .dtb file\n",
                path);
        fclose(f);
        return -1;
    }
    if ((unsigned long)size > BOARD_DTB_MAX_SIZE) {
        fprintf(stderr,
                "dtinfo: %s: %ld bytes; the kernel takes device trees of at "
                "most %lu bytes (BOARD_DTB_MAX_SIZE)\n",
                path, size, (unsigned long)BOARD_DTB_MAX_SIZE);
        fclose(f);
        return -1;
    }
    rewind(f);
    b->size = (size_t)size;
    b->data = malloc(b->size ? b->size : 1);
    if (!b->data || fread(b->data, 1, b->size, f) != b->size) {
        fprintf(stderr, "dtinfo: %s: cannot read %zu bytes\n", path, b->size);
        free(b->data);
        fclose(f);
        return -1;
    }
    fclose(f);
    return 0;
}

static void emit_line(void *out, const char *line)
{
    fprintf(out, "%s\n", line);
}

int main(int argc, char **argv)
{
    static struct machine m; /* a few KiB: not on the stack */
    const char *why = "no reason given";
    struct blob b;
    int err;

    if (argc != 2 || argv[1][0] == '-')
        return usage();
    if (read_blob(argv[1], &b))
        return 1;
    err = machine_from_fdt(&m, b.data, b.size, &why);
    free(b.data);
    if (err) {
        fprintf(stderr, "dtinfo: %s: %s (%s); the kernel would refuse this tree\n",
                argv[1], why, errno_name(err));
        return 1;
    }
    machine_print(&m, emit_line, stdout);
    return 0;
}
