/* Symbolizer: turns user addresses into module-relative addresses, function +
 * offset and, where debuginfo exists, file:line, with elfutils libdwfl. One
 * Dwfl per module file is opened once and kept. */
#ifndef SPANTAP_SYMBOLIZE_H
#define SPANTAP_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spantap/record_format.h" /* SPANTAP_BUILD_ID_HEX_MAX */

/* Opaque. Caches, per module path, one Dwfl with the file reported at bias 0
 * (plus its separate debuginfo from /usr/lib/debug or the directories of
 * spantap_symbolizer_set_debug_dirs, found by libdwfl's standard callbacks, and a sorted symbol
 * index), and also remembers the paths that failed. Each module holds its descriptors open until
 * destroy. Not thread-safe: one thread per symbolizer. */
struct spantap_symbolizer;

struct spantap_symbol {
  uint64_t rel_addr; /* address in the module's own ELF address space; always set */
  char build_id[SPANTAP_BUILD_ID_HEX_MAX + 1]; /* hex, "" if none */
  char function[256];                          /* "" when no symbol covers the address */
  uint64_t offset;                             /* address - function start */
  char file[512];                              /* source file, "" without debuginfo */
  int line;                                    /* 0 without debuginfo */
};

/* Sets *OUT to an owned symbolizer (destroy with spantap_symbolizer_destroy).
 * Returns 0, or -ENOMEM with ERR saying which step failed (starting the
 * libdwfl session quotes dwfl_errmsg). */
int spantap_symbolizer_open(struct spantap_symbolizer **out, char *err, size_t errlen);

/* As spantap_symbolizer_open, without the message: NULL on failure. */
struct spantap_symbolizer *spantap_symbolizer_new(void);
void spantap_symbolizer_destroy(struct spantap_symbolizer *s); /* NULL is a no-op */

/* Symbolizes ADDR, which lies in a mapping of MODULE_PATH starting at
 * MAP_START with file offset MAP_PGOFF (as /proc/PID/maps shows). With
 * IS_RETURN_ADDRESS the lookup uses ADDR - 1 (the call instruction) while the
 * offset stays relative to ADDR. Returns 0 (OUT filled; function may be ""),
 * -ENOENT when the file cannot be opened, -EINVAL when it is not an ELF file
 * or ADDR is in no loadable segment, -ENOMEM. A warm lookup (module already
 * opened) takes about a microsecond; the first one of a module opens it. */
int spantap_symbolizer_lookup(struct spantap_symbolizer *s, const char *module_path,
                              uint64_t map_start, uint64_t map_pgoff, uint64_t addr,
                              bool is_return_address, struct spantap_symbol *out);

/* Symbolizes REL_ADDR (an ELF address of MODULE_PATH) directly, to symbolize
 * stored frames again. Same returns. */
int spantap_symbolizer_lookup_rel(struct spantap_symbolizer *s, const char *module_path,
                                  uint64_t rel_addr, bool is_return_address,
                                  struct spantap_symbol *out);

/* Fills BUILD_ID with MODULE_PATH's build id in hex ("" if it has none).
 * Returns 0 or -ENOENT / -EINVAL as above. */
int spantap_module_build_id(struct spantap_symbolizer *s, const char *module_path,
                            char build_id[SPANTAP_BUILD_ID_HEX_MAX + 1]);

/* Sets *P_OFFSET to the file offset of MODULE_PATH's first executable
 * loadable segment (where the kernel's mm->start_code points). Returns 0,
 * -ENOENT / -EINVAL as above, or -ESRCH when it has no executable segment. */
int spantap_module_text_offset(struct spantap_symbolizer *s, const char *module_path,
                               uint64_t *p_offset);

/* A module's first executable loadable segment: where the kernel's
 * mm->start_code points, and what a frame's file offset is read against. */
struct spantap_text_segment {
  uint64_t offset; /* in the file (p_offset) */
  uint64_t vaddr;  /* its ELF address (p_vaddr) */
  uint64_t size;   /* its bytes in the file (p_filesz) */
};

/* Sets *SEG to MODULE_PATH's first executable loadable segment. Returns 0,
 * -ENOENT / -EINVAL as above, or -ESRCH when it has none. */
int spantap_module_text_segment(struct spantap_symbolizer *s, const char *module_path,
                                struct spantap_text_segment *seg);

/* Where every symbolizer of the process looks for a module's separate
 * debuginfo from now on (libdwfl's search, for modules opened later): the
 * file's directory and its .debug subdirectory, then each of the N DIRS as
 * DIR/.build-id/xx/rest.debug and DIR/<the file's path>.debug. N = 0 restores
 * the default, /usr/lib/debug. DIRS are copied. Returns 0 or -ENOMEM
 * (nothing changed). */
int spantap_symbolizer_set_debug_dirs(const char *const *dirs, size_t n);

/* The message of the last failure ("Failed to X: path=... error=...", quoting
 * dwfl_errmsg / elf_errmsg / strerror), or "". Valid until the next call; "" for NULL. */
const char *spantap_symbolizer_last_error(const struct spantap_symbolizer *s);

#endif
