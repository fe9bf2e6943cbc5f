/* Numbers of the Linux kernel's ABI that the record stream carries as they
 * are and that no libc header defines: the TCP states of struct sock's
 * sk_state (the kernel's include/net/tcp_states.h). Both the script generator
 * and the collector may use them. Address families, protocols and errno
 * values come from <sys/socket.h>, <netinet/in.h> and <errno.h>. */
#ifndef SPANTAP_KERNEL_ABI_H
#define SPANTAP_KERNEL_ABI_H

enum spantap_tcp_state {
  SPANTAP_TCP_ESTABLISHED = 1,
  SPANTAP_TCP_SYN_SENT,
  SPANTAP_TCP_SYN_RECV,
  SPANTAP_TCP_FIN_WAIT1,
  SPANTAP_TCP_FIN_WAIT2,
  SPANTAP_TCP_TIME_WAIT,
  SPANTAP_TCP_CLOSE,
  SPANTAP_TCP_CLOSE_WAIT,
  SPANTAP_TCP_LAST_ACK,
  SPANTAP_TCP_LISTEN,
  SPANTAP_TCP_CLOSING,
  SPANTAP_TCP_NEW_SYN_RECV,
  SPANTAP_TCP__COUNT
};

/* The kernel's name of TCP state STATE ("ESTABLISHED", ...), or "?". */
static inline const char *spantap_tcp_state_name(int state) {
  static const char *const names[SPANTAP_TCP__COUNT] = {[SPANTAP_TCP_ESTABLISHED] = "ESTABLISHED",
                                                        [SPANTAP_TCP_SYN_SENT] = "SYN_SENT",
                                                        [SPANTAP_TCP_SYN_RECV] = "SYN_RECV",
                                                        [SPANTAP_TCP_FIN_WAIT1] = "FIN_WAIT1",
                                                        [SPANTAP_TCP_FIN_WAIT2] = "FIN_WAIT2",
                                                        [SPANTAP_TCP_TIME_WAIT] = "TIME_WAIT",
                                                        [SPANTAP_TCP_CLOSE] = "CLOSE",
                                                        [SPANTAP_TCP_CLOSE_WAIT] = "CLOSE_WAIT",
                                                        [SPANTAP_TCP_LAST_ACK] = "LAST_ACK",
                                                        [SPANTAP_TCP_LISTEN] = "LISTEN",
                                                        [SPANTAP_TCP_CLOSING] = "CLOSING",
                                                        [SPANTAP_TCP_NEW_SYN_RECV] =
                                                            "NEW_SYN_RECV"};
  return state > 0 && state < SPANTAP_TCP__COUNT ? names[state] : "?";
}

#endif
