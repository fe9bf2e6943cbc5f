/* Modules in the saved stream: the MOD record a live recording writes for
 * each file backing user code (its file identity, build id and text segment,
 * read on the recording machine), and what an import does with it. An import
 * symbolizes a module with the file at the recorded path only when that file
 * has the recorded build id, else with a debug file of that build id under the
 * debug directories, else not at all: its frames keep their addresses, are
 * counted, and the module is named in one warning. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/collector_impl.h"
#include "spantap/module_record.h"

int spantap_collector_announce_module(struct spantap_collector *c, int64_t id) {
  if (!c->opts.live || !c->opts.save_stream || id <= 0 ||
      spantap_u64_map_get(c->announced, (uint64_t)id))
    return 0;
  const char *path = spantap_module_registry_path(c->modules, id);
  if (!path)
    return 0;
  char build_id[SPANTAP_BUILD_ID_HEX_MAX + 1] = "";
  struct spantap_text_segment text = {0};
  /* a file that cannot be read says so as "-" and an empty segment */
  if (c->sym && spantap_module_build_id(c->sym, path, build_id) == 0)
    spantap_module_text_segment(c->sym, path, &text);
  char line[PATH_MAX + SPANTAP_BUILD_ID_HEX_MAX + 2];
  int len = spantap_module_text_format(line, sizeof line, build_id, path);
  if (len < 0)
    return 0; /* a path no record can carry: the import finds it by MAP alone */
  if (spantap_u64_map_put(c->announced, (uint64_t)id, c) < 0)
    return -ENOMEM;
  uint64_t ino, kdev;
  spantap_module_registry_file_id(c->modules, id, &ino, &kdev);
  struct spantap_record r = {
      .desc = spantap_record_desc_get(SPANTAP_REC_MODULE), .text = line, .text_len = (size_t)len};
  r.v[SPANTAP_MODULE_ts] = c->newest_ts;
  r.v[SPANTAP_MODULE_ino] = (int64_t)ino;
  r.v[SPANTAP_MODULE_dev] = (int64_t)kdev;
  r.v[SPANTAP_MODULE_text_offset] = (int64_t)text.offset;
  r.v[SPANTAP_MODULE_text_vaddr] = (int64_t)text.vaddr;
  r.v[SPANTAP_MODULE_text_size] = (int64_t)text.size;
  return spantap_collector_save(c, &r);
}

int spantap_collector_announce_files(struct spantap_collector *c, const struct spantap_record *r) {
  if (!c->opts.live || !c->opts.save_stream)
    return 0;
  uint64_t ino, dev;
  if (r->desc->kind == SPANTAP_REC_XMAP) {
    ino = (uint64_t)r->v[SPANTAP_XMAP_ino];
    dev = (uint64_t)r->v[SPANTAP_XMAP_dev];
  } else if (r->desc->kind == SPANTAP_REC_EXEC && r->v[SPANTAP_EXEC_traced]) {
    ino = (uint64_t)r->v[SPANTAP_EXEC_ino];
    dev = (uint64_t)r->v[SPANTAP_EXEC_dev];
  } else {
    return 0;
  }
  char name[PATH_MAX];
  snprintf(name, sizeof name, "%.*s", (int)r->text_len, r->text);
  int64_t id = spantap_collector_module_of_file(c, name, ino, dev);
  return id < 0 ? (int)id : spantap_collector_announce_module(c, id);
}

/* What an import found for one recorded module. */
struct module_match {
  enum spantap_module_file how;
  bool path_differs; /* a file is at the path, of another build (or unreadable) */
  char
      found[SPANTAP_BUILD_ID_HEX_MAX + 64]; /* the file at the path: build id, "none", or why not */
  char debug_file[PATH_MAX];                /* SPANTAP_MODULE_FILE_DEBUG: the file used */
};

static const char *const default_debug_dirs[] = {SPANTAP_DEBUG_DIR_DEFAULT};

static const char *const *debug_dirs(const struct spantap_collector *c, size_t *n) {
  if (c->opts.debug_dirs && c->opts.ndebug_dirs) {
    *n = c->opts.ndebug_dirs;
    return c->opts.debug_dirs;
  }
  *n = 1;
  return default_debug_dirs;
}

/* Looks for the debug file of build id WANT (hex, not empty) under the debug
 * directories: DIR/.build-id/xx/rest.debug with that build id. Returns 1 with
 * its path in M->debug_file, 0 when none, or -ENOMEM. */
static int find_debug_file(struct spantap_collector *c, const char *want, struct module_match *m) {
  size_t ndirs;
  const char *const *dirs = debug_dirs(c, &ndirs);
  for (size_t i = 0; i < ndirs; i++) {
    char path[PATH_MAX], have[SPANTAP_BUILD_ID_HEX_MAX + 1];
    int n = snprintf(path, sizeof path, "%s/.build-id/%.2s/%s.debug", dirs[i], want, want + 2);
    if (n < 0 || (size_t)n >= sizeof path || access(path, R_OK) < 0)
      continue;
    int rc = spantap_module_build_id(c->sym, path, have);
    if (rc == -ENOMEM)
      return -ENOMEM;
    if (rc == 0 && strcmp(have, want) == 0) {
      memcpy(m->debug_file, path, sizeof path);
      return 1;
    }
  }
  return 0;
}

/* Matches the module recorded at PATH with build id WANT ("" when it had
 * none) to a file here. Returns 0 (M filled) or -ENOMEM. */
static int match_module(struct spantap_collector *c, const char *path, const char *want,
                        struct module_match *m) {
  memset(m, 0, sizeof *m);
  if (!c->sym)
    return 0; /* no symbolizer, no symbols: the file at the path is as good as any */
  char have[SPANTAP_BUILD_ID_HEX_MAX + 1];
  int rc = spantap_module_build_id(c->sym, path, have);
  if (rc == -ENOMEM)
    return -ENOMEM;
  if (rc == 0 && strcmp(have, want) == 0)
    return 0;
  struct stat st;
  if (rc == 0) {
    snprintf(m->found, sizeof m->found, "%s", have[0] ? have : "no build id");
    m->path_differs = true;
  } else if (stat(path, &st) < 0) {
    snprintf(m->found, sizeof m->found, "%s", errno == ENOENT ? "no such file" : strerror(errno));
  } else {
    snprintf(m->found, sizeof m->found, "%s",
             rc == -EINVAL ? "not an ELF file" : "a file that cannot be read");
    m->path_differs = true;
  }
  if (want[0] && (rc = find_debug_file(c, want, m)) != 0) {
    if (rc < 0)
      return rc;
    m->how = SPANTAP_MODULE_FILE_DEBUG;
    return 0;
  }
  m->how = m->path_differs ? SPANTAP_MODULE_FILE_MISMATCH : SPANTAP_MODULE_FILE_MISSING;
  return 0;
}

/* Tells the importer about module PATH whose file here is not the recorded one. */
static void warn_module(struct spantap_collector *c, const char *path, const char *want,
                        const struct module_match *m) {
  if (!c->opts.warn || m->how == SPANTAP_MODULE_FILE_AT_PATH)
    return;
  char msg[2 * PATH_MAX + 512];
  const char *expected = want[0] ? want : "none";
  if (m->how == SPANTAP_MODULE_FILE_DEBUG) {
    snprintf(msg, sizeof msg,
             "module %s: expected build id %s, found %s; symbolizing with the debug file %s", path,
             expected, m->found, m->debug_file);
  } else {
    size_t ndirs, used = 0;
    const char *const *dirs = debug_dirs(c, &ndirs);
    char where[PATH_MAX] = "";
    for (size_t i = 0; i < ndirs && used < sizeof where; i++)
      used += (size_t)snprintf(where + used, sizeof where - used, "%s%s", i ? ", " : "", dirs[i]);
    if (want[0])
      snprintf(msg, sizeof msg,
               "module %s: expected build id %s, found %s; no debug file .build-id/%.2s/%s.debug "
               "under %s: its frames stay unsymbolized",
               path, expected, m->found, want, want + 2, where);
    else
      snprintf(msg, sizeof msg,
               "module %s: expected build id none, found %s: its frames stay unsymbolized", path,
               m->found);
  }
  c->opts.warn(msg, c->opts.warn_ctx);
}

int spantap_collector_module_record(struct spantap_collector *c, const struct spantap_record *r) {
  if (c->opts.live)
    return 0; /* a live recording reads its files as they are */
  struct spantap_module_text t;
  const char *why;
  char path[PATH_MAX];
  if (spantap_module_text_parse(r->text, r->text_len, &t, &why) < 0 || t.path_len >= sizeof path)
    return -EINVAL;
  memcpy(path, t.path, t.path_len);
  path[t.path_len] = '\0';
  c->stream_has_modules = true;
  int64_t known = spantap_module_registry_lookup(c->modules, path);
  const struct spantap_module_source *was = spantap_module_registry_source(c->modules, known);
  if (was && was->recorded)
    return 0; /* one record per module: the first holds */
  struct module_match m;
  int rc = match_module(c, path, t.build_id, &m);
  if (rc < 0)
    return rc;
  const int64_t *v = r->v;
  struct spantap_module_source src = {.how = m.how,
                                      .file =
                                          m.how == SPANTAP_MODULE_FILE_DEBUG ? m.debug_file : NULL,
                                      .has_text = v[SPANTAP_MODULE_text_size] > 0,
                                      .text = {.offset = (uint64_t)v[SPANTAP_MODULE_text_offset],
                                               .vaddr = (uint64_t)v[SPANTAP_MODULE_text_vaddr],
                                               .size = (uint64_t)v[SPANTAP_MODULE_text_size]}};
  struct spantap_module_identity ident = {.build_id = t.build_id,
                                          .ino = (uint64_t)v[SPANTAP_MODULE_ino],
                                          .kdev = (uint64_t)v[SPANTAP_MODULE_dev]};
  int64_t id = spantap_module_registry_intern_recorded(c->modules, path, &ident, &src);
  if (id < 0)
    return (int)id;
  if (m.path_differs)
    c->stats.modules_build_id_mismatch++;
  warn_module(c, path, t.build_id, &m);
  return 0;
}
