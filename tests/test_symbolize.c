/* Tests of the symbolizer against the test application (built with -g and
 * frame pointers, known function names) and against libc as mapped in this
 * test process. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "collector/proc_mirror.h"
#include "collector/symbolize.h"

/* The ELF address of symbol NAME in PATH, from its symbol table. */
static uint64_t symbol_addr(const char *path, const char *name) {
  elf_version(EV_CURRENT);
  int fd = open(path, O_RDONLY);
  assert_true(fd >= 0);
  Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
  uint64_t found = 0;
  for (Elf_Scn *scn = NULL; (scn = elf_nextscn(elf, scn));) {
    GElf_Shdr sh;
    gelf_getshdr(scn, &sh);
    if (sh.sh_type != SHT_SYMTAB)
      continue;
    Elf_Data *d = elf_getdata(scn, NULL);
    for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
      GElf_Sym s;
      gelf_getsym(d, (int)i, &s);
      if (strcmp(elf_strptr(elf, sh.sh_link, s.st_name), name) == 0)
        found = s.st_value;
    }
  }
  elf_end(elf);
  close(fd);
  assert_true(found != 0);
  return found;
}

static void test_chain_functions_and_lines(void **state) {
  (void)state;
  struct spantap_symbolizer *s = spantap_symbolizer_new();
  static const char *const names[] = {"chain_a", "chain_b", "chain_c", "main"};
  for (size_t i = 0; i < 4; i++) {
    uint64_t a = symbol_addr(CHAIN_APP, names[i]);
    struct spantap_symbol sym;
    /* as a return address 10 bytes into the function */
    assert_int_equal(spantap_symbolizer_lookup_rel(s, CHAIN_APP, a + 10, true, &sym), 0);
    assert_string_equal(sym.function, names[i]);
    assert_int_equal(sym.offset, 10);
    assert_non_null(strstr(sym.file, "chain_app.c"));
    assert_true(sym.line > 0);
    assert_int_equal(strlen(sym.build_id), 40);
    /* and as an absolute address in a PIE mapping at 0x555555554000 */
    struct spantap_symbol abs;
    assert_int_equal(spantap_symbolizer_lookup(s, CHAIN_APP, 0x555555554000ULL, 0,
                                               0x555555554000ULL + a + 10, true, &abs), 0);
    assert_string_equal(abs.function, names[i]);
    assert_int_equal(abs.rel_addr, a + 10);
  }
  spantap_symbolizer_destroy(s);
}

struct libc_map {
  uint64_t start, pgoff, target;
  char path[4096];
};

static int find_libc(const struct spantap_maps_entry *e, void *ctx) {
  struct libc_map *m = ctx;
  if (strstr(e->path, "libc.so") && m->target >= e->start && m->target < e->end) {
    m->start = e->start;
    m->pgoff = e->pgoff;
    snprintf(m->path, sizeof m->path, "%s", e->path);
  }
  return 0;
}

static void test_libc_as_mapped(void **state) {
  (void)state;
  struct libc_map m = {.target = (uint64_t)(uintptr_t)&dup};
  assert_true(spantap_read_proc_maps(getpid(), find_libc, &m) > 0);
  assert_true(m.start != 0);
  struct spantap_symbolizer *s = spantap_symbolizer_new();
  struct spantap_symbol sym;
  assert_int_equal(spantap_symbolizer_lookup(s, m.path, m.start, m.pgoff, m.target, false, &sym), 0);
  assert_non_null(strstr(sym.function, "dup"));
  assert_int_equal(sym.offset, 0);
  /* repeated lookups give the same answer */
  struct spantap_symbol again;
  assert_int_equal(spantap_symbolizer_lookup(s, m.path, m.start, m.pgoff, m.target, false, &again), 0);
  assert_string_equal(again.function, sym.function);
  spantap_symbolizer_destroy(s);
}

static void test_errors(void **state) {
  (void)state;
  struct spantap_symbolizer *s = spantap_symbolizer_new();
  struct spantap_symbol sym;
  char bid[41];
  assert_int_equal(spantap_symbolizer_lookup_rel(s, "/nonexistent/module", 0x10, false, &sym), -ENOENT);
  assert_non_null(strstr(spantap_symbolizer_last_error(s), "/nonexistent/module"));
  char path[] = "/tmp/spantap-not-elf-XXXXXX";
  int fd = mkstemp(path);
  assert_int_equal(write(fd, "hello, not an ELF file\n", 23), 23);
  close(fd);
  assert_int_equal(spantap_symbolizer_lookup_rel(s, path, 0x10, false, &sym), -EINVAL);
  assert_int_equal(spantap_module_build_id(s, path, bid), -EINVAL);
  unlink(path);
  /* an address past every loadable segment */
  assert_int_equal(spantap_symbolizer_lookup(s, CHAIN_APP, 0x1000, 0, 0x1000 + (1ULL << 40), false, &sym), -EINVAL);
  spantap_symbolizer_destroy(s);
  spantap_symbolizer_destroy(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_chain_functions_and_lines),
      cmocka_unit_test(test_libc_as_mapped),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests_name("symbolize", tests, NULL, NULL);
}
