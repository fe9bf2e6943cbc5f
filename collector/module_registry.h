/* Module registry: the executable files (programs and libraries) that traced
 * processes map, each with a dense id, its path and its file identity, stored
 * once as a row of the modules table. It also finds the file behind a bare
 * file name, as the kernel reports a mapping, in the directories the dynamic
 * loader and the shell search. */
#ifndef SPANTAP_MODULE_REGISTRY_H
#define SPANTAP_MODULE_REGISTRY_H

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

/* The path of module ID (borrowed, valid until destroy), or NULL. */
const char *spantap_module_registry_path(const struct spantap_module_registry *r, int64_t id);

/* Modules registered. */
uint64_t spantap_module_registry_count(const struct spantap_module_registry *r);

/* The directories searched by file name, in order, each ending in '/'
 * (borrowed). Sets *N to their number. */
const char *const *spantap_module_registry_dirs(const struct spantap_module_registry *r, size_t *n);

#endif
