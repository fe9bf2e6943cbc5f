/* Symbolizer on elfutils libdwfl: each module file is reported once, offline,
 * at bias 0, so that an address is looked up in the file's own ELF address
 * space; the load address of each process only enters through the program
 * headers, when an absolute address is turned into that ELF address. */
#include "collector/symbolize.h"

#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct module {
  char *path;
  int err;          /* 0, or -errno when the file could not be reported */
  Dwfl *dwfl;
  Dwfl_Module *mod;
  GElf_Phdr *loads; /* PT_LOAD headers */
  size_t nloads;
  char build_id[41];
};

struct spantap_symbolizer {
  struct module *mods;
  size_t n, cap;
  char last_error[512];
};

static char *debuginfo_path = NULL;
static const Dwfl_Callbacks offline_callbacks = {
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .debuginfo_path = &debuginfo_path,
    .section_address = dwfl_offline_section_address,
    .find_elf = dwfl_build_id_find_elf,
};

struct spantap_symbolizer *spantap_symbolizer_new(void) {
  return calloc(1, sizeof(struct spantap_symbolizer));
}

void spantap_symbolizer_destroy(struct spantap_symbolizer *s) {
  if (!s)
    return;
  for (size_t i = 0; i < s->n; i++) {
    if (s->mods[i].dwfl)
      dwfl_end(s->mods[i].dwfl);
    free(s->mods[i].loads);
    free(s->mods[i].path);
  }
  free(s->mods);
  free(s);
}

const char *spantap_symbolizer_last_error(const struct spantap_symbolizer *s) {
  return s->last_error;
}

static int open_module(struct spantap_symbolizer *s, struct module *m) {
  int fd = open(m->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(s->last_error, sizeof s->last_error, "Failed to open module: path=%s errno=%s",
             m->path, strerror(errno));
    return -ENOENT;
  }
  /* program headers, read with libelf on our own descriptor */
  elf_version(EV_CURRENT);
  Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
  size_t nph = 0;
  if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getphdrnum(elf, &nph) != 0) {
    snprintf(s->last_error, sizeof s->last_error, "Failed to read ELF: path=%s error=%s", m->path,
             elf_errmsg(-1));
    if (elf)
      elf_end(elf);
    close(fd);
    return -EINVAL;
  }
  m->loads = calloc(nph ? nph : 1, sizeof *m->loads);
  for (size_t i = 0; m->loads && i < nph; i++) {
    GElf_Phdr ph;
    if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD)
      m->loads[m->nloads++] = ph;
  }
  elf_end(elf);
  m->dwfl = dwfl_begin(&offline_callbacks);
  if (!m->dwfl) {
    close(fd);
    snprintf(s->last_error, sizeof s->last_error, "Failed to start libdwfl: error=%s",
             dwfl_errmsg(-1));
    return -ENOMEM;
  }
  /* dwfl takes the descriptor */
  m->mod = dwfl_report_offline(m->dwfl, m->path, m->path, fd);
  if (!m->mod || dwfl_report_end(m->dwfl, NULL, NULL) != 0) {
    snprintf(s->last_error, sizeof s->last_error, "Failed to report module: path=%s error=%s",
             m->path, dwfl_errmsg(-1));
    return -EINVAL;
  }
  const unsigned char *bits;
  GElf_Addr vaddr;
  int len = dwfl_module_build_id(m->mod, &bits, &vaddr);
  for (int i = 0; i < len && i < 20; i++)
    snprintf(m->build_id + 2 * i, 3, "%02x", bits[i]);
  return 0;
}

/* The cached module for PATH, opened on first use. NULL only on ENOMEM. */
static struct module *module_for(struct spantap_symbolizer *s, const char *path) {
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->mods[i].path, path) == 0)
      return &s->mods[i];
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 32;
    struct module *m = realloc(s->mods, cap * sizeof *m);
    if (!m)
      return NULL;
    s->mods = m;
    s->cap = cap;
  }
  struct module *m = &s->mods[s->n];
  memset(m, 0, sizeof *m);
  m->path = strdup(path);
  if (!m->path)
    return NULL;
  s->n++;
  m->err = open_module(s, m);
  return m;
}

int spantap_module_build_id(struct spantap_symbolizer *s, const char *module_path,
                            char build_id[41]) {
  build_id[0] = '\0';
  struct module *m = module_for(s, module_path);
  if (!m)
    return -ENOMEM;
  if (m->err)
    return m->err;
  memcpy(build_id, m->build_id, 41);
  return 0;
}

static void describe(struct module *m, uint64_t rel, bool is_return, struct spantap_symbol *out) {
  memset(out, 0, sizeof *out);
  out->rel_addr = rel;
  memcpy(out->build_id, m->build_id, 41);
  /* the module was reported at bias 0, so ELF addresses are dwfl addresses */
  Dwarf_Addr bias = 0;
  dwfl_module_getelf(m->mod, &bias);
  Dwarf_Addr lookup = rel + bias - (is_return ? 1 : 0);
  GElf_Sym sym;
  GElf_Off off = 0;
  const char *name = dwfl_module_addrinfo(m->mod, lookup, &off, &sym, NULL, NULL, NULL);
  if (name) {
    snprintf(out->function, sizeof out->function, "%s", name);
    out->offset = off + (is_return ? 1 : 0);
  }
  Dwfl_Line *line = dwfl_module_getsrc(m->mod, lookup);
  if (line) {
    int lineno = 0;
    const char *file = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL);
    if (file) {
      snprintf(out->file, sizeof out->file, "%s", file);
      out->line = lineno;
    }
  }
}

int spantap_symbolizer_lookup(struct spantap_symbolizer *s, const char *module_path,
                              uint64_t map_start, uint64_t map_pgoff, uint64_t addr,
                              bool is_return_address, struct spantap_symbol *out) {
  struct module *m = module_for(s, module_path);
  if (!m)
    return -ENOMEM;
  if (m->err)
    return m->err;
  /* file offset of ADDR, then the PT_LOAD that holds that offset */
  uint64_t file_off = addr - map_start + map_pgoff;
  for (size_t i = 0; i < m->nloads; i++) {
    const GElf_Phdr *ph = &m->loads[i];
    if (file_off >= ph->p_offset && file_off < ph->p_offset + ph->p_filesz) {
      describe(m, file_off - ph->p_offset + ph->p_vaddr, is_return_address, out);
      return 0;
    }
  }
  snprintf(s->last_error, sizeof s->last_error,
           "Failed to place address: path=%s addr=0x%llx file_offset=0x%llx", module_path,
           (unsigned long long)addr, (unsigned long long)file_off);
  return -EINVAL;
}

int spantap_symbolizer_lookup_rel(struct spantap_symbolizer *s, const char *module_path,
                                  uint64_t rel_addr, bool is_return_address,
                                  struct spantap_symbol *out) {
  struct module *m = module_for(s, module_path);
  if (!m)
    return -ENOMEM;
  if (m->err)
    return m->err;
  describe(m, rel_addr, is_return_address, out);
  return 0;
}

int spantap_module_text_offset(struct spantap_symbolizer *s, const char *module_path,
                               uint64_t *p_offset) {
  struct module *m = module_for(s, module_path);
  if (!m)
    return -ENOMEM;
  if (m->err)
    return m->err;
  for (size_t i = 0; i < m->nloads; i++) {
    if (m->loads[i].p_flags & PF_X) {
      *p_offset = m->loads[i].p_offset;
      return 0;
    }
  }
  return -ESRCH;
}
