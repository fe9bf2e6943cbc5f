/* Text source: the collector's input from a text record stream. It frames the
 * bytes into lines (any split; partial lines are kept until their newline),
 * parses each with the stream parser and pushes the records into a collector,
 * counting the lines it cannot parse. */
#ifndef SPANTAP_TEXT_SOURCE_H
#define SPANTAP_TEXT_SOURCE_H

#include <stddef.h>

struct spantap_collector;
struct spantap_text_source;

#define SPANTAP_TEXT_LINE_MAX 65536 /* longer lines are counted malformed and skipped */

/* Creates a source feeding collector C (borrowed; it must outlive the
 * source). Returns an owned source (destroy with
 * spantap_text_source_destroy) or NULL on ENOMEM. */
struct spantap_text_source *spantap_text_source_new(struct spantap_collector *c);
void spantap_text_source_destroy(struct spantap_text_source *t); /* NULL is a no-op */

/* Feeds LEN bytes of BUF. Returns 0, -ENOMEM, or the collector's -EIO (ERR
 * says why): the caller stops. */
int spantap_text_source_feed(struct spantap_text_source *t, const char *buf, size_t len, char *err,
                             size_t errlen);

/* Ends the stream: a last line without its newline was cut mid-record and is
 * counted malformed. */
void spantap_text_source_finish(struct spantap_text_source *t);

#endif
