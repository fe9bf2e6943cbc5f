/* An export's output file, written whole or not at all: bytes go to a
 * temporary file next to the destination, which is renamed over it only once
 * the export succeeded. Optionally gzip'd (pprof). Standard output when the
 * path is NULL or "-" (then nothing can be taken back). */
#ifndef SPANTAP_EXPORT_OUTPUT_H
#define SPANTAP_EXPORT_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>

struct spantap_output;

/* Opens the output PATH (the temporary file PATH.XXXXXX, mode 0600 like the
 * recording it comes from) and, when
 * GZIP, a gzip stream on it. Returns an owned output in *OUT (commit or
 * destroy it), or a negative errno with ERR naming the path and the cause. */
int spantap_output_open(const char *path, bool gzip, struct spantap_output **out, char *err,
                        size_t errlen);

/* Appends LEN bytes of BUF (a struct spantap_export_sink's write: CTX is the
 * output). Returns 0 or a negative errno with ERR. */
int spantap_output_write(void *ctx, const void *buf, size_t len, char *err, size_t errlen);

/* Finishes the output: flushes, syncs and renames the temporary file to its
 * path. Destroys O in every case. Returns 0 or a negative errno with ERR (then
 * the temporary file is removed and the destination left as it was). */
int spantap_output_commit(struct spantap_output *o, char *err, size_t errlen);

/* Abandons O: removes its temporary file. NULL is a no-op. */
void spantap_output_destroy(struct spantap_output *o);

#endif
