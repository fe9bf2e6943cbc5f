/* A kernel event after the collector has resolved it (process, interned
 * stack and connection), as the reorder window and the span engine see it.
 * Events are ordered by the time they completed: a syscall is printed when it
 * returns, so its completion time (ts + dur) is what grows steadily in the
 * stream, whereas its entry time can lie far back for a blocking call. */
#ifndef SPANTAP_EVENT_H
#define SPANTAP_EVENT_H

#include <stdint.h>

enum spantap_event_kind {
  SPANTAP_EV_SYSCALL,   /* a completed syscall (on a socket when sock != 0) */
  SPANTAP_EV_FORK,      /* a new process or thread: child_pid, child_tid */
  SPANTAP_EV_EXIT,      /* a thread exited */
  SPANTAP_EV_OFFCPU,    /* a thread ran again after dur ns off the CPU */
  SPANTAP_EV_PAGEFAULT, /* a user page fault */
  SPANTAP_EV_TCPSTATE,  /* a socket's TCP state changed to new_state */
  SPANTAP_EV_LOSS,      /* the runtime lost events around ts */
  SPANTAP_EV_SOCKET     /* a socket's addresses (ends, conn_id), announced at ts */
};

/* The two ends of a socket, as the local side sees them. Addresses use the
 * record format's encoding (an IPv4 address in lo, hi 0). */
struct spantap_endpoints {
  int family, proto;
  int lport, rport;
  int64_t laddr_hi, laddr_lo, raddr_hi, raddr_lo;
};

struct spantap_event {
  enum spantap_event_kind kind;
  int64_t ts, dur; /* start (entry, switch-out) and duration; dur 0 for instants */
  int64_t pid, tid;
  int64_t stack_id; /* 0 when none */
  /* SYSCALL */
  int64_t nr, ret, args[3];
  const char *class_name; /* "net", "file", "mem", "proc", "other" (static) */
  int64_t conn_id;        /* 0 when the fd is not a socket */
  uint64_t sock;          /* kernel socket address, 0 when not a socket */
  struct spantap_endpoints ends;
  /* FORK */
  int64_t child_pid, child_tid;
  /* OFFCPU: state; PAGEFAULT: address, error_code; TCPSTATE: new_state */
  int64_t state;
  uint64_t address;
  int64_t error_code;
};

/* The time an event completed: the order key of the span engine. */
static inline int64_t spantap_event_end(const struct spantap_event *e) {
  return e->ts + e->dur;
}

#endif
