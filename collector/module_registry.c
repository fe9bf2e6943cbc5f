/* Module registry: interned module paths with their file identity, and the
 * search directories for bare file names, derived from this machine's dynamic
 * loader (its compiled-in path, as dlinfo reports it), /etc/ld.so.conf and
 * PATH, so no architecture's library folders are written here. */
#include "collector/module_registry.h"

#include <dlfcn.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "collector/intern.h"

#define LD_SO_CONF "/etc/ld.so.conf"
#define LD_SO_CONF_DEPTH 4 /* nested include levels followed */
#define DIRS_MAX 128

struct file_id {
  uint64_t ino, kdev; /* kernel encoding of the device, as scripts report it */
};

struct spantap_module_registry {
  struct spantap_store *store;
  struct spantap_symbolizer *sym;
  struct spantap_intern *ids;
  char **paths;                          /* index = module id */
  struct file_id *files;                 /* index = module id; 0 when the file could not be read */
  struct spantap_module_source *sources; /* index = module id; its file owned */
  size_t cap;                            /* slots of paths, files and sources */
  char *dirs[DIRS_MAX];                  /* owned, each ending in '/' */
  size_t ndirs;
};

static uint64_t kernel_dev(dev_t dev) {
  return ((uint64_t)major(dev) << 20) | minor(dev);
}

/* Appends DIR (LEN bytes) to the search directories unless known. */
static void add_dir(struct spantap_module_registry *r, const char *dir, size_t len) {
  while (len > 1 && dir[len - 1] == '/')
    len--;
  if (len == 0 || dir[0] != '/' || r->ndirs == DIRS_MAX)
    return;
  char *d = malloc(len + 2);
  if (!d)
    return;
  memcpy(d, dir, len);
  d[len] = '/';
  d[len + 1] = '\0';
  for (size_t i = 0; i < r->ndirs; i++)
    if (strcmp(r->dirs[i], d) == 0) {
      free(d);
      return;
    }
  r->dirs[r->ndirs++] = d;
}

/* Adds every directory of a colon-separated LIST. */
static void add_dir_list(struct spantap_module_registry *r, const char *list) {
  while (list && *list) {
    size_t n = strcspn(list, ":");
    add_dir(r, list, n);
    list += n + (list[n] == ':');
  }
}

/* Adds the dynamic loader's search path for this process (LD_LIBRARY_PATH
 * first, then its compiled-in system directories). */
static void add_loader_dirs(struct spantap_module_registry *r) {
  void *self = dlopen(NULL, RTLD_LAZY);
  if (!self)
    return;
  Dl_serinfo size;
  if (dlinfo(self, RTLD_DI_SERINFOSIZE, &size) == 0 && size.dls_size > 0) {
    Dl_serinfo *info = malloc(size.dls_size);
    if (info) {
      *info = size;
      if (dlinfo(self, RTLD_DI_SERINFO, info) == 0)
        for (unsigned i = 0; i < info->dls_cnt; i++)
          add_dir(r, info->dls_serpath[i].dls_name, strlen(info->dls_serpath[i].dls_name));
      free(info);
    }
  }
  dlclose(self);
}

/* Adds the directories listed in the ld.so.conf file PATH, following its
 * "include" lines (globs) up to LD_SO_CONF_DEPTH levels. */
static void add_ld_so_conf(struct spantap_module_registry *r, const char *path, int depth) {
  FILE *f = fopen(path, "re");
  if (!f)
    return;
  char line[PATH_MAX];
  while (fgets(line, sizeof line, f)) {
    char *p = line + strspn(line, " \t");
    p[strcspn(p, "#\r\n")] = '\0';
    size_t n = strlen(p);
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
      p[--n] = '\0';
    if (strncmp(p, "include", 7) == 0 && (p[7] == ' ' || p[7] == '\t')) {
      if (depth >= LD_SO_CONF_DEPTH)
        continue;
      char *pattern = p + 8 + strspn(p + 8, " \t");
      glob_t g;
      if (glob(pattern, 0, NULL, &g) == 0)
        for (size_t i = 0; i < g.gl_pathc; i++)
          add_ld_so_conf(r, g.gl_pathv[i], depth + 1);
      globfree(&g);
    } else if (p[0] == '/') {
      add_dir(r, p, n);
    }
  }
  fclose(f);
}

struct spantap_module_registry *spantap_module_registry_new(struct spantap_store *store,
                                                            struct spantap_symbolizer *sym) {
  struct spantap_module_registry *r = calloc(1, sizeof *r);
  if (!r)
    return NULL;
  r->store = store;
  r->sym = sym;
  r->ids = spantap_intern_new();
  if (!r->ids) {
    free(r);
    return NULL;
  }
  add_loader_dirs(r);
  add_ld_so_conf(r, LD_SO_CONF, 0);
  add_dir_list(r, getenv("PATH"));
  char cs_path[PATH_MAX];
  if (confstr(_CS_PATH, cs_path, sizeof cs_path) > 0)
    add_dir_list(r, cs_path);
  /* the administrator's programs (daemons), which a user's PATH often lacks */
  add_dir_list(r, "/usr/local/sbin:/usr/sbin:/sbin");
  return r;
}

void spantap_module_registry_destroy(struct spantap_module_registry *r) {
  if (!r)
    return;
  spantap_intern_destroy(r->ids);
  for (size_t i = 0; i < r->cap; i++) {
    free(r->paths[i]);
    free(r->sources[i].file);
  }
  free(r->paths);
  free(r->files);
  free(r->sources);
  for (size_t i = 0; i < r->ndirs; i++)
    free(r->dirs[i]);
  free(r);
}

/* Makes room for module id ID. Returns 0 or -ENOMEM. */
static int reserve(struct spantap_module_registry *r, size_t id) {
  if (id < r->cap)
    return 0;
  size_t cap = r->cap ? r->cap * 2 : 64;
  while (cap <= id)
    cap *= 2;
  char **p = realloc(r->paths, cap * sizeof *p);
  if (!p)
    return -ENOMEM;
  memset(p + r->cap, 0, (cap - r->cap) * sizeof *p);
  r->paths = p;
  struct file_id *f = realloc(r->files, cap * sizeof *f);
  if (!f)
    return -ENOMEM;
  memset(f + r->cap, 0, (cap - r->cap) * sizeof *f);
  r->files = f;
  struct spantap_module_source *src = realloc(r->sources, cap * sizeof *src);
  if (!src)
    return -ENOMEM;
  memset(src + r->cap, 0, (cap - r->cap) * sizeof *src);
  r->sources = src;
  r->cap = cap;
  return 0;
}

int64_t spantap_module_registry_intern(struct spantap_module_registry *r, const char *path) {
  bool created;
  int64_t id = spantap_intern_get(r->ids, path, strlen(path), true, &created);
  if (id <= 0 || !created)
    return id;
  if (reserve(r, (size_t)id) < 0 || !(r->paths[id] = strdup(path)))
    return -ENOMEM;
  struct stat st;
  if (stat(path, &st) == 0)
    r->files[id] = (struct file_id){st.st_ino, kernel_dev(st.st_dev)};
  char build_id[SPANTAP_BUILD_ID_HEX_MAX + 1] = "";
  if (r->sym)
    spantap_module_build_id(r->sym, path, build_id);
  if (spantap_store_module(r->store, id, path, build_id) < 0)
    return -EIO;
  return id;
}

int64_t spantap_module_registry_find_file(struct spantap_module_registry *r, const char *name,
                                          uint64_t ino, uint64_t kdev) {
  for (size_t id = 1; id < r->cap && r->paths[id]; id++)
    if (r->files[id].ino == ino && r->files[id].kdev == kdev)
      return (int64_t)id;
  const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
  for (size_t i = 0; i <= r->ndirs; i++) {
    char path[PATH_MAX], real[PATH_MAX];
    if (i == 0)
      snprintf(path, sizeof path, "%s", name);
    else
      snprintf(path, sizeof path, "%s%s", r->dirs[i - 1], base);
    struct stat st;
    if (stat(path, &st) < 0 || st.st_ino != ino || kernel_dev(st.st_dev) != kdev)
      continue;
    if (!realpath(path, real))
      continue;
    int64_t id = spantap_module_registry_intern(r, real);
    return id > 0 ? id : 0;
  }
  return 0;
}

int64_t spantap_module_registry_find_path(struct spantap_module_registry *r, const char *name) {
  const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
  for (size_t i = name[0] == '/' ? 0 : 1; i <= r->ndirs; i++) {
    char path[PATH_MAX], real[PATH_MAX];
    if (i == 0)
      snprintf(path, sizeof path, "%s", name);
    else
      snprintf(path, sizeof path, "%s%s", r->dirs[i - 1], base);
    if (!realpath(path, real) || access(real, R_OK) < 0)
      continue;
    return spantap_module_registry_intern(r, real);
  }
  return 0;
}

int64_t spantap_module_registry_intern_recorded(struct spantap_module_registry *r, const char *path,
                                                const struct spantap_module_identity *ident,
                                                const struct spantap_module_source *src) {
  bool created;
  int64_t id = spantap_intern_get(r->ids, path, strlen(path), true, &created);
  if (id <= 0)
    return id;
  if (!created && r->sources[id].recorded)
    return id; /* the first record of a module holds */
  if (reserve(r, (size_t)id) < 0 || (created && !(r->paths[id] = strdup(path))))
    return -ENOMEM;
  char *file = src->file ? strdup(src->file) : NULL;
  if (src->file && !file)
    return -ENOMEM;
  free(r->sources[id].file);
  r->sources[id] = *src;
  r->sources[id].file = file;
  r->sources[id].recorded = true;
  r->files[id] = (struct file_id){ident->ino, ident->kdev};
  if (spantap_store_module(r->store, id, path, ident->build_id) < 0)
    return -EIO;
  return id;
}

int64_t spantap_module_registry_lookup(struct spantap_module_registry *r, const char *path) {
  bool created;
  int64_t id = spantap_intern_get(r->ids, path, strlen(path), false, &created);
  return id > 0 ? id : 0;
}

void spantap_module_registry_file_id(const struct spantap_module_registry *r, int64_t id,
                                     uint64_t *ino, uint64_t *kdev) {
  bool known = id > 0 && (size_t)id < r->cap;
  *ino = known ? r->files[id].ino : 0;
  *kdev = known ? r->files[id].kdev : 0;
}

int64_t spantap_module_registry_find_recorded(const struct spantap_module_registry *r, uint64_t ino,
                                              uint64_t kdev) {
  for (size_t id = 1; id < r->cap && r->paths[id]; id++)
    if (r->sources[id].recorded && r->files[id].ino == ino && r->files[id].kdev == kdev)
      return (int64_t)id;
  return 0;
}

const struct spantap_module_source *
spantap_module_registry_source(const struct spantap_module_registry *r, int64_t id) {
  return id > 0 && (size_t)id < r->cap && r->paths[id] ? &r->sources[id] : NULL;
}

const char *spantap_module_registry_path(const struct spantap_module_registry *r, int64_t id) {
  return id > 0 && (size_t)id < r->cap ? r->paths[id] : NULL;
}

uint64_t spantap_module_registry_count(const struct spantap_module_registry *r) {
  return spantap_intern_count(r->ids);
}

const char *const *spantap_module_registry_dirs(const struct spantap_module_registry *r,
                                                size_t *n) {
  *n = r->ndirs;
  return (const char *const *)r->dirs;
}
