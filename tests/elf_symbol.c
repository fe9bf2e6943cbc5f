/* See elf_symbol.h. */
#include "tests/elf_symbol.h"

#include <fcntl.h>
#include <gelf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

uint64_t spantap_test_symbol_addr(const char *path, const char *name) {
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
