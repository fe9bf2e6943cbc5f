/* BPF objects built ahead of time (`spantap record --compile-only --runtime
 * bpf`, run with `--module X.bo` under stapbpf): the mark appended to the
 * object that says which record queues its maps are (their cookie and CPU
 * count), for the map reader of the machine that runs it. */
#ifndef SPANTAP_BPF_OBJECT_H
#define SPANTAP_BPF_OBJECT_H

#include <stddef.h>
#include <stdint.h>

/* The mark: one text line after the ELF object (stapbpf reads the object
 * through its section table and never reaches it). */
#define SPANTAP_BPF_OBJECT_MARK "spantap-bpf-object"

/* Appends the mark for COOKIE and NCPU to the object at PATH. Returns 0, or
 * -errno with the path and the failing call in ERR. */
int spantap_bpf_object_mark(const char *path, uint64_t cookie, unsigned ncpu, char *err,
                            size_t errlen);

/* Reads the mark of the object at PATH into *COOKIE and *NCPU. Returns 0;
 * -ENOENT/-EACCES... when it cannot be read; -EINVAL when PATH has no mark
 * (not built by spantap's --compile-only) or an invalid one. ERR says which. */
int spantap_bpf_object_read_mark(const char *path, uint64_t *cookie, unsigned *ncpu, char *err,
                                 size_t errlen);

#endif
