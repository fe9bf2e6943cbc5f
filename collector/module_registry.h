/* Module registry: the executable files (programs and libraries) that traced
 * processes map, each with a dense id, its path and its file identity, stored
 * once as a row of the modules table. It also finds the file behind a bare
 * file name, as the kernel reports a mapping, in the directories the dynamic
 * loader and the shell search. */
#ifndef SPANTAP_MODULE_REGISTRY_H
#define SPANTAP_MODULE_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/store.h"
#include "collector/symbolize.h"

struct spantap_module_registry;

/* Creates a registry writing module rows to STORE and reading build ids with
 * SYM (both borrowed; SYM may be NULL). The search directories are read now:
 * the loader's own search path, those of /etc/ld.so.conf and its includes,
 * and PATH's. Returns an owned registry (destroy with
 * spantap_module_registry_destroy) or NULL on ENOMEM. */
struct spantap_module_registry *spantap_module_registry_new(struct spantap_store *store,
                                                            struct spantap_symbolizer *sym);
void spantap_module_registry_destroy(struct spantap_module_registry *r); /* NULL is a no-op */

/* The id of the module at PATH (an absolute path), registered and stored
 * when new. Returns the id (>= 1), -ENOMEM, or -EIO when the store failed. */
int64_t spantap_module_registry_intern(struct spantap_module_registry *r, const char *path);

/* Finds the module of the file NAME (a path, or a bare file name) whose inode
 * and device are INO and KDEV (the kernel's encoding, major << 20 | minor):
 * among the modules known, then at NAME itself, then by NAME's file name in
 * the search directories. Returns the module id, 0 when not found, or a
 * negative errno as spantap_module_registry_intern. */
int64_t spantap_module_registry_find_file(struct spantap_module_registry *r, const char *name,
                                          uint64_t ino, uint64_t kdev);

/* Finds the file NAME (an absolute path, or a bare file name) whatever its
 * inode: at NAME itself, then by NAME's file name in the search directories;
 * for a stream recorded on another machine (a guest, a production host),
 * whose inodes mean nothing here. The build id stored with the module shows
 * a mismatch. Returns the module id, 0 when not found, or a negative errno as
 * spantap_module_registry_intern. */
int64_t spantap_module_registry_find_path(struct spantap_module_registry *r, const char *name);

/* Where the frames of a module are symbolized on this machine. */
enum spantap_module_file {
  SPANTAP_MODULE_FILE_AT_PATH,  /* the file at its path (live, or with the recorded build id) */
  SPANTAP_MODULE_FILE_DEBUG,    /* a separate debug file with the recorded build id */
  SPANTAP_MODULE_FILE_MISMATCH, /* the file at its path is another build, no debug file: none */
  SPANTAP_MODULE_FILE_MISSING,  /* no file at its path, no debug file: none */
};

/* What a recording says of a module (a MOD record). */
struct spantap_module_identity {
  const char *build_id; /* hex, "" when the file had none */
  uint64_t ino, kdev;   /* its file identity on the recording machine */
};

struct spantap_module_source {
  bool recorded;                    /* from a MOD record; else the file at the path, unchecked */
  enum spantap_module_file how;     /* when recorded */
  char *file;                       /* SPANTAP_MODULE_FILE_DEBUG: the debug file */
  bool has_text;                    /* the recorded text segment is known */
  struct spantap_text_segment text; /* the recorded text segment */
};

/* Registers the module PATH as a recording describes it: its row gets the
 * recorded build id of IDENT, and SRC (copied; its file too) says how its
 * frames are symbolized here. A module registered already (the file at PATH,
 * unchecked) takes IDENT and SRC; one registered from a record already keeps
 * what the first record said. Returns the id, -ENOMEM or -EIO. */
int64_t spantap_module_registry_intern_recorded(struct spantap_module_registry *r, const char *path,
                                                const struct spantap_module_identity *ident,
                                                const struct spantap_module_source *src);

/* The id of the module at PATH, or 0 when none is registered. */
int64_t spantap_module_registry_lookup(struct spantap_module_registry *r, const char *path);

/* Sets *INO and *KDEV to module ID's file identity (0 when unknown). */
void spantap_module_registry_file_id(const struct spantap_module_registry *r, int64_t id,
                                     uint64_t *ino, uint64_t *kdev);

/* The module a recording (a MOD record) gave the file identity INO, KDEV, or 0. */
int64_t spantap_module_registry_find_recorded(const struct spantap_module_registry *r, uint64_t ino,
                                              uint64_t kdev);

/* How module ID is symbolized (borrowed, valid until the next registration),
 * or NULL for an unknown id. */
const struct spantap_module_source *
spantap_module_registry_source(const struct spantap_module_registry *r, int64_t id);

/* The path of module ID (borrowed, valid until destroy), or NULL. */
const char *spantap_module_registry_path(const struct spantap_module_registry *r, int64_t id);

/* Modules registered. */
uint64_t spantap_module_registry_count(const struct spantap_module_registry *r);

/* The directories searched by file name, in order, each ending in '/'
 * (borrowed). Sets *N to their number. */
const char *const *spantap_module_registry_dirs(const struct spantap_module_registry *r, size_t *n);

#endif
