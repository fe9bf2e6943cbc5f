/* Stack selection: which frames of a captured stack the recording keeps (the
 * stack mode rule, applied here so that both runtimes store the same thing:
 * the BPF one filters in the kernel, the module one does not), their
 * symbolization, and the interning of frames and stacks. Frames that stay
 * without a function are counted by reason. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "collector/collector_impl.h"

struct frame_key {
  int64_t module_id;
  uint64_t where; /* file offset in the module, or the raw address when unknown */
  int64_t pid;    /* only for unknown addresses, which mean nothing across processes */
};

/* Symbolizes ADDR of a recorded module (a stream's MOD record said its text
 * segment and build id) with the file SRC names: the file at PATH, a debug
 * file, or none. Sets SYM->rel_addr to the frame's ELF address whenever the
 * recorded text segment holds it. Returns the symbolizer's result, or -ESRCH
 * for a module whose file here is another build (-ENOENT: no file). */
static int symbolize_recorded(struct spantap_collector *c, const struct spantap_module_source *src,
                              const char *path, const struct spantap_mapping *m, uint64_t addr,
                              bool is_return, struct spantap_symbol *sym) {
  uint64_t file_off = addr - m->start + m->pgoff;
  bool in_text =
      src->has_text && file_off >= src->text.offset && file_off - src->text.offset < src->text.size;
  uint64_t rel = in_text ? file_off - src->text.offset + src->text.vaddr : file_off;
  int rc;
  switch (src->how) {
    case SPANTAP_MODULE_FILE_AT_PATH:
      return spantap_symbolizer_lookup(c->sym, path, m->start, m->pgoff, addr, is_return, sym);
    case SPANTAP_MODULE_FILE_DEBUG:
      /* a debug file's program headers need not place its code: the recorded ones do */
      rc =
          in_text ? spantap_symbolizer_lookup_rel(c->sym, src->file, rel, is_return, sym) : -EINVAL;
      break;
    case SPANTAP_MODULE_FILE_MISMATCH:
      rc = -ESRCH;
      break;
    default:
      rc = -ENOENT;
      break;
  }
  if (rc < 0) {
    memset(sym, 0, sizeof *sym);
    sym->rel_addr = rel;
  }
  return rc;
}

/* Symbolizes ADDR of mapping M into SYM and counts why it has no function.
 * Returns the symbolizer's result; on failure SYM holds the frame's address
 * in its module (its ELF address when known, else its file offset). */
static int symbolize(struct spantap_collector *c, const struct spantap_mapping *m, uint64_t addr,
                     bool is_return, struct spantap_symbol *sym) {
  const char *path = spantap_module_registry_path(c->modules, m->module_id);
  const struct spantap_module_source *src =
      spantap_module_registry_source(c->modules, m->module_id);
  int rc;
  if (src && src->recorded) {
    rc = symbolize_recorded(c, src, path, m, addr, is_return, sym);
  } else {
    rc = spantap_symbolizer_lookup(c->sym, path, m->start, m->pgoff, addr, is_return, sym);
    if (rc < 0) { /* a failed lookup leaves nothing half-filled */
      memset(sym, 0, sizeof *sym);
      sym->rel_addr = addr - m->start + m->pgoff;
    }
  }
  enum spantap_unsymbolized why = SPANTAP_UNSYM__COUNT;
  if (rc == -ESRCH)
    why = SPANTAP_UNSYM_BUILD_ID_MISMATCH;
  else if (rc == -ENOENT)
    why = SPANTAP_UNSYM_NO_FILE;
  else if (rc == -EINVAL)
    why = SPANTAP_UNSYM_NOT_ELF;
  else if (rc < 0)
    why = SPANTAP_UNSYM_FAILED;
  else if (!sym->function[0])
    why = SPANTAP_UNSYM_NO_SYMBOL;
  if (why == SPANTAP_UNSYM__COUNT)
    return rc;
  c->stats.unsymbolized[why]++;
  /* the symbolizer's message, when it was asked (a module known to be
   * another build or missing was not) */
  bool asked = !src || !src->recorded || src->how <= SPANTAP_MODULE_FILE_DEBUG;
  if (rc < 0 && asked && !c->stats.symbolize_error[0])
    snprintf(c->stats.symbolize_error, sizeof c->stats.symbolize_error, "%s",
             spantap_symbolizer_last_error(c->sym));
  return rc;
}

static int64_t frame_id(struct spantap_collector *c, struct spantap_process *p,
                        const struct spantap_mapping *m, uint64_t addr, bool is_return) {
  struct frame_key k = {0};
  if (m && m->module_id) {
    k.module_id = m->module_id;
    k.where = addr - m->start + m->pgoff;
  } else {
    k.where = addr;
    k.pid = p->pid;
  }
  bool created;
  int64_t id = spantap_intern_get(c->frames, &k, sizeof k, true, &created);
  if (id <= 0 || !created)
    return id;
  c->stats.frames++;
  struct spantap_symbol sym;
  memset(&sym, 0, sizeof sym);
  sym.rel_addr = k.where;
  if (m && m->module_id && c->sym) {
    symbolize(c, m, addr, is_return, &sym); /* failures are counted by reason */
  } else {
    c->stats.unknown_frames++;
    if (!m || !m->module_id)
      c->stats.unsymbolized[SPANTAP_UNSYM_NO_MAPPING]++;
  }
  if (spantap_store_frame(c->store, id, k.module_id, sym.rel_addr, sym.function, sym.offset,
                          sym.file, sym.line) < 0)
    return -EIO;
  return id;
}

/* The mapping of P holding ADDR, rereading a live process's maps once more
 * when none does (the mapping may be newer than the last read). */
static int find_mapping(struct spantap_collector *c, struct spantap_process *p, uint64_t addr,
                        int64_t ts, const struct spantap_mapping **out) {
  *out = spantap_process_find_mapping(p, addr);
  if (!*out && c->opts.live && p->maps_reads < MAPS_READS_MAX) {
    if (spantap_collector_refresh_maps(c, p, ts) < 0)
      return -EIO;
    *out = spantap_process_find_mapping(p, addr);
  }
  return 0;
}

int64_t spantap_collector_stack(struct spantap_collector *c, struct spantap_process *p,
                                const struct spantap_record *r, int64_t ts) {
  unsigned mode = c->stats.stack_mode;
  if (!r->has_stack_token || mode == 0)
    return 0;
  int64_t key[SPANTAP_MAX_FRAMES + 1];
  int64_t seen_modules[SPANTAP_MAX_FRAMES];
  unsigned n = 0, nseen = 0, flags = r->stack_flags;
  int64_t app_frame = 0;
  for (unsigned i = 0; i < r->nframes && n < c->stats.stack_depth; i++) {
    uint64_t addr = r->frames[i];
    const struct spantap_mapping *m;
    if (find_mapping(c, p, addr, ts, &m) < 0)
      return -EIO;
    /* Slot 1 of a BPF stack is a guess (a word near sp): keep it only when it
     * points into code. */
    if (c->bpf_stacks && r->frame_slot[i] == 1 && (!m || !m->executable))
      continue;
    if (!m)
      flags |= SPANTAP_STACK_UNWIND_BROKEN;
    int64_t mod = m ? m->module_id : 0;
    bool in_app = mod && mod == p->main_module_id;
    if (mode <= 2 && !in_app)
      continue;
    if (mode == 3) {
      bool dup = false;
      for (unsigned j = 0; j < nseen; j++)
        dup |= seen_modules[j] == mod;
      if (dup)
        continue;
      seen_modules[nseen++] = mod;
    }
    int64_t fid = frame_id(c, p, m, addr, r->frame_slot[i] > 0);
    if (fid < 0)
      return fid;
    if (in_app && !app_frame)
      app_frame = fid;
    key[1 + n++] = fid;
    if (mode == 1)
      break;
  }
  key[0] = flags;
  bool created;
  int64_t id = spantap_intern_get(c->stacks, key, (1 + n) * sizeof key[0], true, &created);
  if (id > 0 && created) {
    c->stats.stacks++;
    if (spantap_store_stack(c->store, id, key + 1, n, flags, app_frame) < 0)
      return -EIO;
  }
  return id;
}
