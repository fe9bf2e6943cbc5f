/* The start-up handshake between spantap and a generated script: spantap
 * pings each probe family until it answers with a READY record naming the
 * family (SPANTAP_READY_* in record_format.h); recording starts once all have.
 * The generator writes these values into the scripts (@@READY_PING@@), the
 * recording session sends the pings. */
#ifndef SPANTAP_HANDSHAKE_H
#define SPANTAP_HANDSHAKE_H

/* spantap calls getpriority(SPANTAP_READY_PING_WHICH, 0): no valid "which"
 * (PRIO_* are 0-2), so the call only fails with EINVAL, while the script's
 * raw_syscalls probe recognizes it from spantap's pid and answers READY. */
#define SPANTAP_READY_PING_WHICH 21328

/* The exec family is pinged by a child of spantap that execs this program. */
#define SPANTAP_READY_PING_EXEC "/bin/true"

#endif
