/* A synthetic record stream of request traffic for the export tests and the
 * export benchmark: an untraced load generator calls `front`, whose worker
 * threads read a file and call `store`; every syscall carries a user stack in
 * the services' own code. `spantap import` turns it into a recording without
 * root. */
#ifndef SPANTAP_TESTS_EXPORT_STREAM_H
#define SPANTAP_TESTS_EXPORT_STREAM_H

#include <stdio.h>

/* Per request: three spans (front server, front client, store server) in one
 * trace, and 8 syscalls, the front's pread lasting EXPORT_STREAM_PREAD_NS. */
#define EXPORT_STREAM_SPANS_PER_REQUEST 3
#define EXPORT_STREAM_SYSCALLS_PER_REQUEST 8
#define EXPORT_STREAM_PREAD_NS 3000000L

/* Writes a whole stream of REQUESTS requests (BEGIN ... END) to F; requests
 * whose number is a multiple of 10 are slow (their pread takes 4x longer).
 * Returns 0, or -EIO when F failed. */
int export_stream_write(FILE *f, long requests);

/* Writes the stream to the file PATH and stores it with `spantap import`
 * (the binary SPANTAP) into DB. Returns 0, or -1 after printing why. */
int export_stream_import(const char *spantap, long requests, const char *stream_path,
                         const char *db);

#endif
