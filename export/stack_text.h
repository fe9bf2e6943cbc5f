/* The frames of a stored user stack, read for the exporters that show stacks
 * (OTLP attributes, folded lines): one indexed query per stack. */
#ifndef SPANTAP_EXPORT_STACK_TEXT_H
#define SPANTAP_EXPORT_STACK_TEXT_H

#include <stddef.h>
#include <stdint.h>

struct sqlite3;
struct spantap_stack_reader;

#define SPANTAP_STACK_TEXT_FRAMES 64

struct spantap_stack_frame {
  int64_t frame_id;
  char name[160]; /* function, else module+0xADDR (no offset: frames of a function fold together) */
  char file[160]; /* source file:line, or "" */
};

/* Prepares the reader on DB. Returns an owned reader in *OUT (destroy it), or
 * -EIO with ERR. */
int spantap_stack_reader_new(struct sqlite3 *db, struct spantap_stack_reader **out, char *err,
                             size_t errlen);
void spantap_stack_reader_destroy(struct spantap_stack_reader *r); /* NULL is a no-op */

/* Reads the frames of stack STACK_ID, innermost first, into FRAMES (at most
 * SPANTAP_STACK_TEXT_FRAMES). Returns the number read (0 for an unknown
 * stack), or -EIO with ERR. */
int spantap_stack_reader_read(struct spantap_stack_reader *r, int64_t stack_id,
                              struct spantap_stack_frame *frames, char *err, size_t errlen);

/* The name of a frame: FUNCTION when known, else MODULE's file name (or "?")
 * and REL_ADDR, written into OUT. */
void spantap_stack_frame_name(const char *function, const char *module, int64_t rel_addr, char *out,
                              size_t len);

#endif
