/* Process mirror: the collector's own view of the traced processes, their
 * threads and their memory mappings, kept while they live so that user
 * addresses can be resolved to modules, and dropped when they exit. */
#ifndef SPANTAP_PROC_MIRROR_H
#define SPANTAP_PROC_MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct spantap_mapping {
  uint64_t start, end, pgoff;
  int64_t module_id; /* 0: anonymous or unknown */
  bool executable;
};

struct spantap_process {
  int64_t pid, ppid;
  char *exe; /* owned; NULL until known */
  int64_t start_ns, exec_ns, exit_ns;
  int64_t exit_status;           /* wait status, -1 while running */
  bool attached;                 /* traced from before the recording, not seen starting */
  uint64_t start_code, end_code; /* the executable's text, from its exec */
  int64_t main_module_id;        /* module of the executable, 0 until known */
  struct spantap_mapping *maps;  /* owned, sorted by start */
  size_t nmaps;
  unsigned maps_reads; /* how often /proc/PID/maps was read */
};

struct spantap_proc_mirror;

/* Returns an owned, empty mirror (destroy with spantap_proc_mirror_destroy) or NULL. */
struct spantap_proc_mirror *spantap_proc_mirror_new(void);
void spantap_proc_mirror_destroy(struct spantap_proc_mirror *m); /* NULL is a no-op */

/* Returns the process PID, creating it (exit_status -1, everything else 0)
 * when absent and CREATE. NULL when absent and not created, or on ENOMEM.
 * The pointer stays valid until the process is removed. */
struct spantap_process *spantap_proc_mirror_get(struct spantap_proc_mirror *m, int64_t pid,
                                                bool create);

/* Forgets process PID and frees it. Unknown pids are ignored. */
void spantap_proc_mirror_remove(struct spantap_proc_mirror *m, int64_t pid);

/* Calls FN for every process held, in no particular order. */
void spantap_proc_mirror_foreach(struct spantap_proc_mirror *m,
                                 void (*fn)(struct spantap_process *p, void *ctx), void *ctx);

/* Replaces P's mappings with the N entries of MAPS (copied, any order). Returns 0 or -ENOMEM. */
int spantap_process_set_maps(struct spantap_process *p, const struct spantap_mapping *maps,
                             size_t n);

/* Adds mapping M to P, replacing any mapping it overlaps (a new mmap over an
 * old range replaces it). Returns 0 or -ENOMEM (P unchanged). */
int spantap_process_add_mapping(struct spantap_process *p, const struct spantap_mapping *m);

/* The mapping of P that contains ADDR, or NULL. */
const struct spantap_mapping *spantap_process_find_mapping(const struct spantap_process *p,
                                                           uint64_t addr);

/* One line of /proc/PID/maps. PATH points into a buffer reused per line. */
struct spantap_maps_entry {
  uint64_t start, end, pgoff, ino;
  char perms[5];
  const char *path; /* "" for anonymous mappings */
};

/* Reads /proc/PID/maps and calls FN for each line. Returns the number of lines,
 * or -errno (-ENOENT when the process is gone). */
int spantap_proc_maps_read(int64_t pid, int (*fn)(const struct spantap_maps_entry *e, void *ctx),
                           void *ctx);

/* Parses one maps line (without newline) into E; PATH points into LINE.
 * Returns 0 or -EINVAL. */
int spantap_proc_maps_parse_line(char *line, struct spantap_maps_entry *e);

#endif
