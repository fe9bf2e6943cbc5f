/* Symbolizer on elfutils libdwfl: each module file is reported once, offline,
 * into the symbolizer's one Dwfl, and looked up through its own Dwfl_Module,
 * so an address is handled in the file's own ELF address space (plus the
 * module's offline bias); the load address of each process only enters
 * through the program headers, when an absolute address becomes an ELF
 * address. Function names come from libdwfl's symbol table (the file's, or
 * that of its separate debuginfo), sorted once per module for binary search.
 * One Dwfl, not one per module: libdwfl 0.188 gives every Dwfl a debuginfod
 * client holding two sockets, and files are mapped so no descriptor stays. */
#include "collector/symbolize.h"

#include <elfutils/libdwfl.h>
#include <elfutils/version.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hash.h"

/* dwfl_report_offline_memory appeared in elfutils 0.187; before it, each
 * module keeps its file descriptor open. */
#if _ELFUTILS_PREREQ(0, 187)
#define REPORT_FROM_MEMORY 1
#else
#define REPORT_FROM_MEMORY 0
#endif

/* A symbol with a size: it covers [start, end). MAX_END is the largest end of
 * this and every earlier entry (sorted by start), which bounds the backward
 * scan for a covering symbol. */
struct sized_sym {
  uint64_t start, end, max_end;
  const char *name; /* owned by the Dwfl */
  int rank;         /* binding preference, see binding_rank() */
};

/* A symbol without size (hand-written assembly): it may cover the addresses
 * from START to the end of its section when no sized symbol does. */
struct label_sym {
  uint64_t start, section_end;
  const char *name;
  int rank;
};

struct module {
  char *path;
  int err;          /* 0, or -errno when the file could not be reported */
  char *errmsg;     /* the message of that failure, repeated on later calls */
  Dwfl_Module *mod; /* in the symbolizer's Dwfl */
  Dwarf_Addr bias;  /* Dwfl address - ELF address, where offline reporting put it */
  void *image;      /* the file mapped privately, for dwfl_report_offline_memory */
  size_t image_size;
  GElf_Phdr *loads; /* PT_LOAD headers */
  size_t nloads;
  char build_id[SPANTAP_BUILD_ID_HEX_MAX + 1];
  bool indexed; /* the symbol index below was built */
  struct sized_sym *syms;
  size_t nsyms;
  struct label_sym *labels;
  size_t nlabels;
};

struct spantap_symbolizer {
  Dwfl *dwfl;           /* every module, reported offline one by one */
  struct module **mods; /* in order of first use; pointers stay valid */
  size_t n, cap;
  size_t *slots; /* open-addressing table of index + 1 into mods; 0 is empty */
  size_t nslots; /* a power of two, at least twice n */
  char last_error[768];
};

/* NULL: libdwfl's default ":.debug:/usr/lib/debug"; else owned, set by
 * spantap_symbolizer_set_debug_dirs */
static char *debuginfo_path = NULL;
static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &debuginfo_path,
};

static void set_error(struct spantap_symbolizer *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_error(struct spantap_symbolizer *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->last_error, sizeof s->last_error, fmt, ap);
  va_end(ap);
}

int spantap_symbolizer_open(struct spantap_symbolizer **out, char *err, size_t errlen) {
  /* the session first: when it fails, libdwfl's own message says why */
  Dwfl *dwfl = dwfl_begin(&callbacks);
  if (!dwfl) {
    snprintf(err, errlen, "Failed to begin a libdwfl session (dwfl_begin): error=%s",
             dwfl_errmsg(-1));
    return -ENOMEM;
  }
  struct spantap_symbolizer *s = calloc(1, sizeof *s);
  if (s) {
    s->nslots = 64;
    s->slots = calloc(s->nslots, sizeof *s->slots);
  }
  if (!s || !s->slots) {
    snprintf(err, errlen, "Failed to allocate the symbolizer: error=%s", strerror(ENOMEM));
    dwfl_end(dwfl);
    free(s);
    return -ENOMEM;
  }
  s->dwfl = dwfl;
  elf_version(EV_CURRENT);
  *out = s;
  return 0;
}

struct spantap_symbolizer *spantap_symbolizer_new(void) {
  struct spantap_symbolizer *s = NULL;
  char err[256];
  return spantap_symbolizer_open(&s, err, sizeof err) == 0 ? s : NULL;
}

/* Frees M; its image only once no Dwfl refers to it any more. */
static void module_free(struct module *m) {
  if (m->image)
    munmap(m->image, m->image_size);
  free(m->loads);
  free(m->syms);
  free(m->labels);
  free(m->errmsg);
  free(m->path);
  free(m);
}

void spantap_symbolizer_destroy(struct spantap_symbolizer *s) {
  if (!s)
    return;
  dwfl_end(s->dwfl);
  for (size_t i = 0; i < s->n; i++)
    module_free(s->mods[i]);
  free(s->mods);
  free(s->slots);
  free(s);
}

int spantap_symbolizer_set_debug_dirs(const char *const *dirs, size_t n) {
  char *path = NULL;
  if (n) {
    /* the file's own directory and its .debug subdirectory first, as by default */
    size_t len = strlen(":.debug") + 1;
    for (size_t i = 0; i < n; i++)
      len += 1 + strlen(dirs[i]);
    if (!(path = malloc(len)))
      return -ENOMEM;
    size_t used = (size_t)snprintf(path, len, ":.debug");
    for (size_t i = 0; i < n; i++)
      used += (size_t)snprintf(path + used, len - used, ":%s", dirs[i]);
  }
  free(debuginfo_path);
  debuginfo_path = path;
  return 0;
}

const char *spantap_symbolizer_last_error(const struct spantap_symbolizer *s) {
  return s ? s->last_error : "";
}

/* Reads the PT_LOAD headers of M with libelf on a descriptor of its own. */
static int read_loads(struct spantap_symbolizer *s, struct module *m) {
  int fd = open(m->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    set_error(s, "Failed to open module: path=%s error=%s", m->path, strerror(errno));
    return -ENOENT;
  }
  Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
  size_t nph = 0;
  int rc = 0;
  if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getphdrnum(elf, &nph) != 0) {
    set_error(s, "Failed to read ELF program headers: path=%s error=%s", m->path,
              elf && elf_kind(elf) != ELF_K_ELF ? "not an ELF file" : elf_errmsg(-1));
    rc = -EINVAL;
  } else if (!(m->loads = calloc(nph ? nph : 1, sizeof *m->loads))) {
    rc = -ENOMEM;
  } else {
    for (size_t i = 0; i < nph; i++) {
      GElf_Phdr ph;
      if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD)
        m->loads[m->nloads++] = ph;
    }
  }
  if (elf)
    elf_end(elf);
  close(fd);
  return rc;
}

/* Reports M->path into the symbolizer's Dwfl (offline, at an address of
 * libdwfl's choosing) and sets M->mod. */
static int report_module(struct spantap_symbolizer *s, struct module *m) {
  int fd = open(m->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    set_error(s, "Failed to open module: path=%s error=%s", m->path, strerror(errno));
    return -ENOENT;
  }
#if REPORT_FROM_MEMORY
  struct stat st;
  if (fstat(fd, &st) != 0) {
    set_error(s, "Failed to stat module: path=%s error=%s", m->path, strerror(errno));
    close(fd);
    return -ENOENT;
  }
  if (st.st_size <= 0) {
    set_error(s, "Failed to map module: path=%s error=empty file", m->path);
    close(fd);
    return -EINVAL;
  }
  /* private and writable as libelf may expect, but never written: clean page cache pages */
  void *image = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  close(fd);
  if (image == MAP_FAILED) {
    set_error(s, "Failed to map module: path=%s size=%lld error=%s", m->path, (long long)st.st_size,
              strerror(errno));
    return -ENOMEM;
  }
  m->image = image;
  m->image_size = (size_t)st.st_size;
  dwfl_report_begin_add(s->dwfl);
  m->mod = dwfl_report_offline_memory(s->dwfl, m->path, m->path, image, m->image_size);
#else
  dwfl_report_begin_add(s->dwfl);
  m->mod = dwfl_report_offline(s->dwfl, m->path, m->path, fd); /* takes FD */
#endif
  if (!m->mod)
    set_error(s, "Failed to report module: path=%s error=%s", m->path, dwfl_errmsg(-1));
  if (dwfl_report_end(s->dwfl, NULL, NULL) != 0 && m->mod) {
    set_error(s, "Failed to end module report: path=%s error=%s", m->path, dwfl_errmsg(-1));
    m->mod = NULL;
  }
  if (!m->mod)
    return -EINVAL;
  if (!dwfl_module_getelf(m->mod, &m->bias)) {
    set_error(s, "Failed to get module ELF: path=%s error=%s", m->path, dwfl_errmsg(-1));
    m->mod = NULL;
    return -EINVAL;
  }
  return 0;
}

/* Opens M->path: program headers, then the Dwfl module and its build id. */
static int open_module(struct spantap_symbolizer *s, struct module *m) {
  int rc = read_loads(s, m);
  if (rc == 0)
    rc = report_module(s, m);
  if (rc)
    return rc;
  const unsigned char *bits;
  GElf_Addr vaddr;
  int len = dwfl_module_build_id(m->mod, &bits, &vaddr);
  for (int i = 0; i < len && i < SPANTAP_BUILD_ID_HEX_MAX / 2; i++)
    snprintf(m->build_id + 2 * i, 3, "%02x", bits[i]);
  return 0;
}

static uint64_t hash_path(const char *p) {
  return spantap_fnv1a(p, strlen(p));
}

/* Puts module index I (of path hash H) into the first free slot. */
static void slot_insert(size_t *slots, size_t nslots, uint64_t h, size_t i) {
  size_t j = (size_t)h & (nslots - 1);
  while (slots[j])
    j = (j + 1) & (nslots - 1);
  slots[j] = i + 1;
}

/* Adds a module entry for PATH (not yet present, hash H) and opens it. NULL on ENOMEM. */
static struct module *module_add(struct spantap_symbolizer *s, const char *path, uint64_t h) {
  if (2 * (s->n + 1) > s->nslots) {
    size_t nslots = s->nslots * 2;
    size_t *slots = calloc(nslots, sizeof *slots);
    if (!slots)
      return NULL;
    for (size_t i = 0; i < s->n; i++)
      slot_insert(slots, nslots, hash_path(s->mods[i]->path), i);
    free(s->slots);
    s->slots = slots;
    s->nslots = nslots;
  }
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 32;
    struct module **mods = realloc(s->mods, cap * sizeof *mods);
    if (!mods)
      return NULL;
    s->mods = mods;
    s->cap = cap;
  }
  struct module *m = calloc(1, sizeof *m);
  if (!m || !(m->path = strdup(path))) {
    free(m);
    return NULL;
  }
  m->err = open_module(s, m);
  if (m->err) {
    /* keep the negative answer and its message; a module that failed
     * after reporting stays in the Dwfl (unused) until destroy, and so
     * does its image */
    m->errmsg = strdup(s->last_error);
  }
  s->mods[s->n] = m;
  slot_insert(s->slots, s->nslots, h, s->n);
  s->n++;
  return m;
}

/* The cached module for PATH, opened on first use (failures are cached too).
 * NULL only on ENOMEM. */
static struct module *module_for(struct spantap_symbolizer *s, const char *path) {
  uint64_t h = hash_path(path);
  for (size_t j = (size_t)h & (s->nslots - 1); s->slots[j]; j = (j + 1) & (s->nslots - 1)) {
    struct module *m = s->mods[s->slots[j] - 1];
    if (strcmp(m->path, path) == 0)
      return m;
  }
  return module_add(s, path, h);
}

/* Prefer global symbols over weak ones over local ones at the same address. */
static int binding_rank(unsigned char info) {
  switch (GELF_ST_BIND(info)) {
    case STB_GLOBAL:
    case STB_GNU_UNIQUE:
      return 3;
    case STB_WEAK:
      return 2;
    case STB_LOCAL:
      return 1;
    default:
      return 0;
  }
}

static int cmp_sized(const void *a, const void *b) {
  const struct sized_sym *x = a, *y = b;
  if (x->start != y->start)
    return x->start < y->start ? -1 : 1;
  return x->rank - y->rank;
}

static int cmp_label(const void *a, const void *b) {
  const struct label_sym *x = a, *y = b;
  if (x->start != y->start)
    return x->start < y->start ? -1 : 1;
  return x->rank - y->rank;
}

/* Builds M's sorted symbol index from libdwfl's symbol table. On ENOMEM the
 * index stays empty (lookups then find no function) and -ENOMEM is returned. */
static int build_index(struct spantap_symbolizer *s, struct module *m) {
  m->indexed = true;
  int n = dwfl_module_getsymtab(m->mod);
  if (n <= 0)
    return 0; /* no symbols at all: every function is "" */
  m->syms = malloc((size_t)n * sizeof *m->syms);
  m->labels = malloc((size_t)n * sizeof *m->labels);
  if (!m->syms || !m->labels) {
    free(m->syms);
    free(m->labels);
    m->syms = NULL;
    m->labels = NULL;
    set_error(s, "Failed to allocate symbol index: path=%s symbols=%d", m->path, n);
    return -ENOMEM;
  }
  for (int i = 1; i < n; i++) {
    GElf_Sym sym;
    GElf_Addr value;
    GElf_Word shndx;
    Elf *elf = NULL;
    const char *name = dwfl_module_getsym_info(m->mod, i, &sym, &value, &shndx, &elf, NULL);
    int type = GELF_ST_TYPE(sym.st_info);
    /* undefined, absolute and special symbols name no code of this module */
    if (!name || !name[0] || type == STT_SECTION || type == STT_FILE || type == STT_TLS ||
        shndx == SHN_UNDEF || shndx >= SHN_LORESERVE)
      continue;
    if (sym.st_size) {
      m->syms[m->nsyms++] = (struct sized_sym){.start = value,
                                               .end = value + sym.st_size,
                                               .name = name,
                                               .rank = binding_rank(sym.st_info)};
      continue;
    }
    GElf_Shdr sh;
    Elf_Scn *scn = elf ? elf_getscn(elf, shndx) : NULL;
    if (!scn || !gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC))
      continue;
    /* the section's end, as a Dwfl address like VALUE */
    uint64_t section_end = value - sym.st_value + sh.sh_addr + sh.sh_size;
    m->labels[m->nlabels++] = (struct label_sym){.start = value,
                                                 .section_end = section_end,
                                                 .name = name,
                                                 .rank = binding_rank(sym.st_info)};
  }
  qsort(m->syms, m->nsyms, sizeof *m->syms, cmp_sized);
  qsort(m->labels, m->nlabels, sizeof *m->labels, cmp_label);
  uint64_t max_end = 0;
  for (size_t i = 0; i < m->nsyms; i++) {
    if (m->syms[i].end > max_end)
      max_end = m->syms[i].end;
    m->syms[i].max_end = max_end;
  }
  return 0;
}

/* Sets *NAME and *START to the symbol covering Dwfl address A, chosen as
 * dwfl_module_addrinfo chooses it (which scans the whole table per call): the
 * covering sized symbol with the highest start, then the strongest binding;
 * failing that the closest sizeless label below A in A's section, unless a
 * sized symbol ends between that label and A (a label inside a function does
 * not stretch past its end). Returns false when no symbol covers A. */
static bool find_symbol(const struct module *m, uint64_t a, const char **name, uint64_t *start) {
  /* LO: the number of sized symbols starting at or below A */
  size_t lo = 0, hi = m->nsyms;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (m->syms[mid].start <= a)
      lo = mid + 1;
    else
      hi = mid;
  }
  uint64_t shadow = lo ? m->syms[lo - 1].max_end : 0; /* sized symbols end below here */
  for (size_t j = lo; j > 0 && m->syms[j - 1].max_end > a; j--) {
    const struct sized_sym *c = &m->syms[j - 1];
    if (a >= c->end)
      continue;
    /* C covers A with the highest start; stronger symbols at the same start
     * sort after C, so they were seen first and do not cover A */
    *name = c->name;
    *start = c->start;
    return true;
  }
  lo = 0;
  hi = m->nlabels;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (m->labels[mid].start <= a)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0)
    return false;
  const struct label_sym *l = &m->labels[lo - 1];
  if (a >= l->section_end || l->start < shadow)
    return false;
  *name = l->name;
  *start = l->start;
  return true;
}

static void describe(struct spantap_symbolizer *s, struct module *m, uint64_t rel, bool is_return,
                     struct spantap_symbol *out) {
  memset(out, 0, sizeof *out);
  out->rel_addr = rel;
  memcpy(out->build_id, m->build_id, sizeof out->build_id);
  if (!m->indexed)
    build_index(s, m);
  /* a return address follows the call: look up the call instruction */
  Dwarf_Addr lookup = rel + m->bias - (is_return ? 1 : 0);
  const char *name;
  uint64_t start;
  if (find_symbol(m, lookup, &name, &start)) {
    snprintf(out->function, sizeof out->function, "%s", name);
    out->offset = rel + m->bias - start;
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

/* The cached, successfully opened module for PATH in *PM, or a negative errno. */
static int usable_module(struct spantap_symbolizer *s, const char *path, struct module **pm) {
  struct module *m = module_for(s, path);
  if (!m) {
    set_error(s, "Failed to allocate module: path=%s", path);
    return -ENOMEM;
  }
  if (m->err) {
    set_error(s, "%s", m->errmsg ? m->errmsg : "Failed to open module");
    return m->err;
  }
  *pm = m;
  return 0;
}

int spantap_module_build_id(struct spantap_symbolizer *s, const char *module_path,
                            char build_id[SPANTAP_BUILD_ID_HEX_MAX + 1]) {
  build_id[0] = '\0';
  struct module *m;
  int rc = usable_module(s, module_path, &m);
  if (rc)
    return rc;
  memcpy(build_id, m->build_id, sizeof m->build_id);
  return 0;
}

int spantap_symbolizer_lookup(struct spantap_symbolizer *s, const char *module_path,
                              uint64_t map_start, uint64_t map_pgoff, uint64_t addr,
                              bool is_return_address, struct spantap_symbol *out) {
  struct module *m;
  int rc = usable_module(s, module_path, &m);
  if (rc)
    return rc;
  /* file offset of ADDR, then the PT_LOAD that holds that offset */
  uint64_t file_off = addr - map_start + map_pgoff;
  for (size_t i = 0; i < m->nloads; i++) {
    const GElf_Phdr *ph = &m->loads[i];
    if (file_off >= ph->p_offset && file_off < ph->p_offset + ph->p_filesz) {
      describe(s, m, file_off - ph->p_offset + ph->p_vaddr, is_return_address, out);
      return 0;
    }
  }
  set_error(s,
            "Failed to place address in a loadable segment: path=%s addr=0x%llx "
            "map_start=0x%llx pgoff=0x%llx file_offset=0x%llx",
            module_path, (unsigned long long)addr, (unsigned long long)map_start,
            (unsigned long long)map_pgoff, (unsigned long long)file_off);
  return -EINVAL;
}

int spantap_symbolizer_lookup_rel(struct spantap_symbolizer *s, const char *module_path,
                                  uint64_t rel_addr, bool is_return_address,
                                  struct spantap_symbol *out) {
  struct module *m;
  int rc = usable_module(s, module_path, &m);
  if (rc)
    return rc;
  describe(s, m, rel_addr, is_return_address, out);
  return 0;
}

int spantap_module_text_segment(struct spantap_symbolizer *s, const char *module_path,
                                struct spantap_text_segment *seg) {
  struct module *m;
  int rc = usable_module(s, module_path, &m);
  if (rc)
    return rc;
  for (size_t i = 0; i < m->nloads; i++) {
    if (m->loads[i].p_flags & PF_X) {
      *seg = (struct spantap_text_segment){.offset = m->loads[i].p_offset,
                                           .vaddr = m->loads[i].p_vaddr,
                                           .size = m->loads[i].p_filesz};
      return 0;
    }
  }
  set_error(s, "Failed to find an executable segment: path=%s", module_path);
  return -ESRCH;
}

int spantap_module_text_offset(struct spantap_symbolizer *s, const char *module_path,
                               uint64_t *p_offset) {
  struct spantap_text_segment seg;
  int rc = spantap_module_text_segment(s, module_path, &seg);
  if (rc == 0)
    *p_offset = seg.offset;
  return rc;
}
