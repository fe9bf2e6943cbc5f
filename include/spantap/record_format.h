/* spantap record format: the one definition of the line records that the
 * generated SystemTap scripts print and the collector parses. The script
 * generator builds every printf from these tables and the stream parser reads
 * every line with them, so the two sides cannot drift apart.
 *
 * A record is one line:  TAG INT INT ... [@FLAGS,HEX,HEX,...] [TEXT]\n
 *   - TAG names the record kind (a short word, see SPANTAP_RECORDS below);
 *   - the integer fields follow in table order, decimal, signed 64-bit;
 *   - records that carry a user stack then have one token starting with '@':
 *     the stack flags (decimal, SPANTAP_STACK_*) and the frame addresses in
 *     hex, innermost first; a zero address ends the frames (slots are fixed
 *     per script, unused ones print as 0);
 *   - records that carry text (a path, a message) end with it: everything after
 *     the single space that follows the last other field, up to the newline.
 */
#ifndef SPANTAP_RECORD_FORMAT_H
#define SPANTAP_RECORD_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

/* Bumped whenever a record gains, loses or reorders a field. */
#define SPANTAP_RECORD_FORMAT_VERSION 3

/* The tables are laid out by hand, one record per block. */
/* clang-format off */
/* Field lists: F(record, field). Field names double as the names of the
 * SystemTap locals that hold their values when a template emits a record. */
/* BEGIN says how the stream was made: its format, and the stack mode and
 * depth the script captured stacks with (version 3), so that an import keeps
 * what was recorded. */
#define SPANTAP_FIELDS_BEGIN(F)                                                        \
  F(BEGIN, format_version) F(BEGIN, script_pid) F(BEGIN, stack_mode) F(BEGIN, stack_depth)
/* READY answers spantap's start-up pings; probe says which probe family
 * answered (SPANTAP_READY_*): recording starts once all have. */
#define SPANTAP_FIELDS_READY(F) F(READY, ts) F(READY, answered)
#define SPANTAP_FIELDS_FORK(F)                                                         \
  F(FORK, ts) F(FORK, pid) F(FORK, tid) F(FORK, child_pid) F(FORK, child_tid)
#define SPANTAP_FIELDS_EXEC(F)                                                         \
  F(EXEC, ts) F(EXEC, pid) F(EXEC, tid) F(EXEC, ppid) F(EXEC, traced)                  \
  F(EXEC, start_code) F(EXEC, end_code) F(EXEC, ino) F(EXEC, dev)
#define SPANTAP_FIELDS_EXIT(F)                                                         \
  F(EXIT, ts) F(EXIT, pid) F(EXIT, tid) F(EXIT, code) F(EXIT, group_dead)
#define SPANTAP_FIELDS_SYSCALL(F)                                                      \
  F(SYSCALL, ts) F(SYSCALL, dur) F(SYSCALL, pid) F(SYSCALL, tid) F(SYSCALL, nr)        \
  F(SYSCALL, ret) F(SYSCALL, arg0) F(SYSCALL, arg1) F(SYSCALL, arg2)
/* A syscall on a socket: sock is the kernel's struct sock address, which
 * identifies the socket while it lives; its addresses come in a SOCK record,
 * printed before the first NC of the socket and again whenever its ports
 * change (bind, connect), so that each NC stays short: every printed field
 * costs the BPF runtime one perf output. */
#define SPANTAP_FIELDS_NETCALL(F)                                                      \
  F(NETCALL, ts) F(NETCALL, dur) F(NETCALL, pid) F(NETCALL, tid) F(NETCALL, nr)        \
  F(NETCALL, ret) F(NETCALL, arg0) F(NETCALL, arg1) F(NETCALL, arg2) F(NETCALL, sock)
/* A socket's addresses. An IPv4 address is in addr_lo as the kernel stores it
 * (network byte order read as a little-endian u32), addr_hi is 0; an IPv6
 * address is the two 64-bit halves, read the same way. Ports are host order. */
#define SPANTAP_FIELDS_SOCKET(F)                                                       \
  F(SOCKET, ts) F(SOCKET, pid) F(SOCKET, sock) F(SOCKET, family) F(SOCKET, proto)      \
  F(SOCKET, lport) F(SOCKET, rport) F(SOCKET, laddr_hi) F(SOCKET, laddr_lo)            \
  F(SOCKET, raddr_hi) F(SOCKET, raddr_lo)
#define SPANTAP_FIELDS_TCPSTATE(F)                                                     \
  F(TCPSTATE, ts) F(TCPSTATE, pid) F(TCPSTATE, tid) F(TCPSTATE, family)                \
  F(TCPSTATE, lport) F(TCPSTATE, rport) F(TCPSTATE, laddr_hi) F(TCPSTATE, laddr_lo)    \
  F(TCPSTATE, raddr_hi) F(TCPSTATE, raddr_lo) F(TCPSTATE, oldstate)                    \
  F(TCPSTATE, newstate) F(TCPSTATE, sock)
#define SPANTAP_FIELDS_OFFCPU(F)                                                       \
  F(OFFCPU, ts) F(OFFCPU, dur) F(OFFCPU, pid) F(OFFCPU, tid) F(OFFCPU, state)
#define SPANTAP_FIELDS_PAGEFAULT(F)                                                    \
  F(PAGEFAULT, ts) F(PAGEFAULT, pid) F(PAGEFAULT, tid) F(PAGEFAULT, address)           \
  F(PAGEFAULT, error_code)
/* Written by the collector, not by scripts: a memory mapping read from
 * /proc/PID/maps (so a saved stream can be symbolized later) and loss that the
 * runtime reported on its standard error. */
#define SPANTAP_FIELDS_MAPPING(F)                                                      \
  F(MAPPING, ts) F(MAPPING, pid) F(MAPPING, start) F(MAPPING, end) F(MAPPING, pgoff)   \
  F(MAPPING, ino)
/* A MAP record with start == end == 0 resets the process's mappings and
 * names its executable; with pgoff SPANTAP_MAPPING_PGOFF_SERVICE instead, its
 * text names the process's service (the process name of a process found
 * running, when its executable's file name differs: a symlink's target). */
#define SPANTAP_MAPPING_PGOFF_SERVICE 1
/* An executable file mapping created by mmap(PROT_EXEC) in a traced process,
 * reported by the script so that stacks of short-lived processes can be
 * symbolized after they are gone. The text is the file's name (no directory). */
#define SPANTAP_FIELDS_XMAP(F)                                                         \
  F(XMAP, ts) F(XMAP, pid) F(XMAP, start) F(XMAP, end) F(XMAP, pgoff) F(XMAP, ino)     \
  F(XMAP, dev)
/* A module (a file backing user frames: the executable, each library), written
 * by the collector into the saved stream when a live recording first meets it,
 * before any record that maps it: its file identity on the recording machine
 * (ino, dev: the kernel's encoding, as EXEC and XMAP give them) and its first
 * executable loadable segment (file offset, ELF address, size in the file), so
 * that an import elsewhere knows the file by path and build id, and can turn
 * a frame's file offset into an ELF address even with a separate debug file.
 * The text is "BUILD_ID PATH": the build id in lowercase hex (at most
 * SPANTAP_BUILD_ID_HEX_MAX digits, an even number), or "-" when the file has
 * none, then the file's absolute path (include/spantap/module_record.h). */
#define SPANTAP_FIELDS_MODULE(F)                                                       \
  F(MODULE, ts) F(MODULE, ino) F(MODULE, dev) F(MODULE, text_offset)                   \
  F(MODULE, text_vaddr) F(MODULE, text_size)
#define SPANTAP_FIELDS_LOST(F) F(LOST, ts) F(LOST, count)
#define SPANTAP_FIELDS_END(F) F(END, ts)

/* R(KIND, tag, field list, has_stack, has_text, written_by_script) */
#define SPANTAP_RECORDS(R)                                                             \
  R(BEGIN, "BEGIN", SPANTAP_FIELDS_BEGIN, false, true, true)                           \
  R(READY, "READY", SPANTAP_FIELDS_READY, false, false, true)                          \
  R(FORK, "FORK", SPANTAP_FIELDS_FORK, false, false, true)                             \
  R(EXEC, "EXEC", SPANTAP_FIELDS_EXEC, false, true, true)                              \
  R(EXIT, "EXIT", SPANTAP_FIELDS_EXIT, false, false, true)                             \
  R(SYSCALL, "SC", SPANTAP_FIELDS_SYSCALL, true, false, true)                          \
  R(SOCKET, "SOCK", SPANTAP_FIELDS_SOCKET, false, false, true)                         \
  R(NETCALL, "NC", SPANTAP_FIELDS_NETCALL, true, false, true)                          \
  R(TCPSTATE, "TCP", SPANTAP_FIELDS_TCPSTATE, true, false, true)                       \
  R(OFFCPU, "OFF", SPANTAP_FIELDS_OFFCPU, false, false, true)                           \
  R(PAGEFAULT, "PF", SPANTAP_FIELDS_PAGEFAULT, true, false, true)                      \
  R(XMAP, "XMAP", SPANTAP_FIELDS_XMAP, false, true, true)                              \
  R(MAPPING, "MAP", SPANTAP_FIELDS_MAPPING, false, true, false)                        \
  R(LOST, "LOST", SPANTAP_FIELDS_LOST, false, true, false)                             \
  R(END, "END", SPANTAP_FIELDS_END, false, false, true)                                \
  /* last: BPF scripts carry the kinds' numbers (queue keys), so new kinds append */  \
  R(MODULE, "MOD", SPANTAP_FIELDS_MODULE, false, true, false)

enum spantap_record_kind {
#define SPANTAP_KIND_ENUM(kind, tag, fields, stack, text, script) SPANTAP_REC_##kind,
  SPANTAP_RECORDS(SPANTAP_KIND_ENUM)
#undef SPANTAP_KIND_ENUM
  SPANTAP_REC__COUNT
};

/* Field indexes, one enum per record: SPANTAP_<KIND>_<field>. */
#define SPANTAP_FIELD_ENUM(kind, field) SPANTAP_##kind##_##field,
enum { SPANTAP_FIELDS_BEGIN(SPANTAP_FIELD_ENUM) SPANTAP_BEGIN__COUNT };
enum { SPANTAP_FIELDS_READY(SPANTAP_FIELD_ENUM) SPANTAP_READY__COUNT };
enum { SPANTAP_FIELDS_FORK(SPANTAP_FIELD_ENUM) SPANTAP_FORK__COUNT };
enum { SPANTAP_FIELDS_EXEC(SPANTAP_FIELD_ENUM) SPANTAP_EXEC__COUNT };
enum { SPANTAP_FIELDS_EXIT(SPANTAP_FIELD_ENUM) SPANTAP_EXIT__COUNT };
enum { SPANTAP_FIELDS_SYSCALL(SPANTAP_FIELD_ENUM) SPANTAP_SYSCALL__COUNT };
enum { SPANTAP_FIELDS_NETCALL(SPANTAP_FIELD_ENUM) SPANTAP_NETCALL__COUNT };
enum { SPANTAP_FIELDS_SOCKET(SPANTAP_FIELD_ENUM) SPANTAP_SOCKET__COUNT };
enum { SPANTAP_FIELDS_TCPSTATE(SPANTAP_FIELD_ENUM) SPANTAP_TCPSTATE__COUNT };
enum { SPANTAP_FIELDS_OFFCPU(SPANTAP_FIELD_ENUM) SPANTAP_OFFCPU__COUNT };
enum { SPANTAP_FIELDS_PAGEFAULT(SPANTAP_FIELD_ENUM) SPANTAP_PAGEFAULT__COUNT };
enum { SPANTAP_FIELDS_XMAP(SPANTAP_FIELD_ENUM) SPANTAP_XMAP__COUNT };
enum { SPANTAP_FIELDS_MAPPING(SPANTAP_FIELD_ENUM) SPANTAP_MAPPING__COUNT };
enum { SPANTAP_FIELDS_MODULE(SPANTAP_FIELD_ENUM) SPANTAP_MODULE__COUNT };
enum { SPANTAP_FIELDS_LOST(SPANTAP_FIELD_ENUM) SPANTAP_LOST__COUNT };
enum { SPANTAP_FIELDS_END(SPANTAP_FIELD_ENUM) SPANTAP_END__COUNT };
#undef SPANTAP_FIELD_ENUM
/* clang-format on */

/* The netcall fields line up with the syscall fields they extend. */
_Static_assert((int)SPANTAP_NETCALL_arg2 == (int)SPANTAP_SYSCALL_arg2, "NC extends SC");

/* Largest field count of any record, and the most stack frames a line may carry. */
#define SPANTAP_MAX_FIELDS 18
#define SPANTAP_MAX_FRAMES 64

/* The longest build id a MOD record carries, in hex digits (64 bytes; ld's
 * own build ids are 16 or 20 bytes). */
#define SPANTAP_BUILD_ID_HEX_MAX 128

/* Probe families that answer the start-up ping, in READY's answered field. */
#define SPANTAP_READY_SYSCALLS 1 /* raw_syscalls: spantap's getpriority ping */
#define SPANTAP_READY_EXEC 2     /* sched_process_exec: a child of spantap execs */
#define SPANTAP_READY_ALL 3

/* Stack flags (bit set), in the '@' token. */
#define SPANTAP_STACK_TRUNCATED_BUDGET 1u /* more frames existed than the depth budget */
#define SPANTAP_STACK_UNWIND_BROKEN 2u    /* a frame the unwinder could not cross */

/* Description of one record kind, for the generator and the parser. */
struct spantap_record_desc {
  enum spantap_record_kind kind;
  const char *tag;
  unsigned nfields;
  const char *const *field_names;
  bool has_stack;
  bool has_text;
  bool written_by_script;
};

/* Whether records of D carry a time: their first field is ts. *HAS_DUR (may
 * be NULL) tells whether a duration, dur, follows it (the record then
 * completed at ts + dur). */
bool spantap_record_desc_timed(const struct spantap_record_desc *d, bool *has_dur);

/* Returns the description of KIND, or NULL when KIND is out of range. */
const struct spantap_record_desc *spantap_record_desc_get(enum spantap_record_kind kind);

/* Returns the description whose tag is the LEN bytes at TAG, or NULL. */
const struct spantap_record_desc *spantap_record_desc_by_tag(const char *tag, size_t len);

#endif
