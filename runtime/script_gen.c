/* Script generator: expands the @@PLACEHOLDER@@s of the stp/ templates into a
 * complete SystemTap script. Every record a script prints is written here from
 * the record table, and every user-supplied name reaches the script only as
 * integer constants, so no input can change the script's code. */
#include "runtime/script_gen.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/syscall_table.h"
#include "runtime/queue_emit.h"
#include "runtime/stp_templates.h"
#include "spantap/handshake.h"
#include "spantap/record_format.h"
#include "spantap/record_queue.h"

#define MAP_SIZE 16384        /* processes in the trace map */
#define THREAD_MAP_SIZE 16384 /* threads with a syscall in flight */
#define SOCK_MAP_SIZE 16384   /* sockets followed for TCP state changes */
#define SP_SCAN_WORDS 6       /* stack words searched for a frameless caller */

/* What the syscall probes do with syscall NR: the bits of _st_want[NR], set by
 * gen_syscall_want and tested by stp/syscalls.stp through @@WANT_*@@. Their
 * meaning is written once, in want_bits below, which also documents them in
 * the script (@@WANT_BITS_DOC@@). */
enum want_bit {
  WANT_RECORD = 1u << 0,
  WANT_IF_SOCKET = 1u << 1,
  WANT_FD_ARG0 = 1u << 2,
  WANT_FD_RET = 1u << 3,
  WANT_EXEC_MAPS = 1u << 4,
  /* the syscalls timed from their entry whatever their fd turns out to be */
  WANT_TIMED = WANT_RECORD | WANT_FD_RET | WANT_EXEC_MAPS,
};

static const struct {
  unsigned bit;
  const char *meaning;
} want_bits[] = {
    {WANT_RECORD, "record it"},
    {WANT_IF_SOCKET, "record it only when its fd is a socket"},
    {WANT_FD_ARG0, "arg0 is an fd"},
    {WANT_FD_RET, "the return value is a new fd"},
    {WANT_EXEC_MAPS, "mmap: report executable file mappings (XMAP), for symbolization"},
};

/* Named integer placeholders of the templates, each with its one definition
 * (docs/record-format.md lists them with the other placeholders). */
static const struct {
  const char *name;
  long value;
} constants[] = {
    {"SYSCALL_MAX", SPANTAP_SYSCALL_MAX},
    {"READY_PING", SPANTAP_READY_PING_WHICH},
    {"READY_SYSCALLS", SPANTAP_READY_SYSCALLS},
    {"READY_EXEC", SPANTAP_READY_EXEC},
    {"WANT_RECORD", WANT_RECORD},
    {"WANT_IF_SOCKET", WANT_IF_SOCKET},
    {"WANT_FD_ARG0", WANT_FD_ARG0},
    {"WANT_FD_RET", WANT_FD_RET},
    {"WANT_EXEC_MAPS", WANT_EXEC_MAPS},
    {"WANT_TIMED", WANT_TIMED},
    {"SP_SCAN_WORDS", SP_SCAN_WORDS},
};

struct gen {
  const struct spantap_script_opts *o;
  FILE *out;
  int err;
  /* BPF runtime: the record queues, one per @@EMIT@@ site, declared with
   * their begin probe at the end of the script */
  struct spantap_queue_set queues;
};

static void emit(struct gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct gen *g, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (vfprintf(g->out, fmt, ap) < 0)
    g->err = -EIO;
  va_end(ap);
}

static const char *template_text(const char *name) {
  for (const struct spantap_stp_template *t = spantap_stp_templates; t->name; t++)
    if (strcmp(t->name, name) == 0)
      return t->text;
  return NULL;
}

int spantap_runtime_parse(const char *s, enum spantap_runtime *rt) {
  if (strcmp(s, "bpf") == 0)
    *rt = SPANTAP_RUNTIME_BPF;
  else if (strcmp(s, "kernel") == 0)
    *rt = SPANTAP_RUNTIME_KERNEL;
  else
    return -EINVAL;
  return 0;
}

const char *spantap_runtime_name(enum spantap_runtime rt) {
  return rt == SPANTAP_RUNTIME_BPF ? "bpf" : "kernel";
}

int spantap_events_parse(const char *list, unsigned *classes, unsigned *extras, char *err,
                         size_t errlen) {
  static const struct {
    const char *word;
    unsigned classes, extras;
  } words[] = {
      {"net", SPANTAP_CLASS_NET, 0},
      {"file", SPANTAP_CLASS_FILE, 0},
      {"mem", SPANTAP_CLASS_MEM, 0},
      {"proc", SPANTAP_CLASS_PROC, 0},
      {"all",
       SPANTAP_CLASS_NET | SPANTAP_CLASS_FILE | SPANTAP_CLASS_MEM | SPANTAP_CLASS_PROC |
           SPANTAP_CLASS_OTHER,
       SPANTAP_EXTRA_TCP},
      {"tcp", 0, SPANTAP_EXTRA_TCP},
      {"sched", 0, SPANTAP_EXTRA_SCHED},
      {"faults", 0, SPANTAP_EXTRA_FAULTS},
      {"default", SPANTAP_DEFAULT_CLASSES, SPANTAP_DEFAULT_EXTRAS},
  };
  *classes = 0;
  *extras = 0;
  const char *p = list;
  while (*p) {
    size_t n = strcspn(p, ",");
    bool found = false;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
      if (strlen(words[i].word) == n && strncmp(words[i].word, p, n) == 0) {
        *classes |= words[i].classes;
        *extras |= words[i].extras;
        found = true;
      }
    }
    if (!found) {
      snprintf(err, errlen,
               "unknown event class '%.*s' (choose from net, file, mem, proc, all, tcp, sched, "
               "faults, default)",
               (int)n, p);
      return -EINVAL;
    }
    p += n;
    if (*p == ',')
      p++;
  }
  if (!*classes && !*extras) {
    snprintf(err, errlen, "empty event list");
    return -EINVAL;
  }
  return 0;
}

int spantap_script_opts_check(const struct spantap_script_opts *o, char *err, size_t errlen) {
  if (o->ntargets == 0 && o->nattach == 0 && o->launch_pid <= 0) {
    snprintf(err, errlen, "nothing to trace: give --binary, --pid or -- CMD");
    return -EINVAL;
  }
  if (o->stack_mode > 4) {
    snprintf(err, errlen, "invalid stack mode %u (choose 0 for none, or 1-4)", o->stack_mode);
    return -EINVAL;
  }
  if (o->stack_depth < 1 || o->stack_depth > SPANTAP_STACK_DEPTH_MAX) {
    snprintf(err, errlen, "invalid stack depth %u (choose 1-%d)", o->stack_depth,
             SPANTAP_STACK_DEPTH_MAX);
    return -EINVAL;
  }
  if (o->runtime == SPANTAP_RUNTIME_KERNEL && o->nattach > SPANTAP_KPARAM_ATTACH_SLOTS) {
    snprintf(err, errlen, "too many --pid for the module runtime: %zu (at most %d)", o->nattach,
             SPANTAP_KPARAM_ATTACH_SLOTS);
    return -EINVAL;
  }
  for (size_t i = 0; i < o->ntargets; i++) {
    size_t len = strlen(o->targets[i].name);
    if (!o->targets[i].is_path &&
        (len == 0 || len > SPANTAP_NAME_MAX || strchr(o->targets[i].name, '/'))) {
      snprintf(err, errlen, "invalid binary name (length %zu): a name is 1-%d bytes without '/'",
               len, SPANTAP_NAME_MAX);
      return -EINVAL;
    }
  }
  return 0;
}

unsigned spantap_script_stack_slots(const struct spantap_script_opts *o) {
  if (o->stack_mode == 0)
    return 0;
  if (o->runtime == SPANTAP_RUNTIME_KERNEL)
    return o->stack_depth;
  return o->stack_mode == 1 ? 1 : o->stack_depth;
}

/* Little-endian word K of the first LEN bytes of S, zero past LEN. */
static uint64_t name_word(const char *s, size_t len, size_t k) {
  uint64_t w = 0;
  for (size_t b = 0; b < 8; b++)
    if (k * 8 + b < len)
      w |= (uint64_t)(unsigned char)s[k * 8 + b] << (8 * b);
  return w;
}

/* Emits the body of _st_is_target. Few locals (exe, the process name's two
 * words c0 and c1, then w, m, k, ok), the file's values read again where they
 * are tested: the function is inlined into the exec and
 * sys_enter probes, whose BPF stack (512 bytes) must also hold their own
 * locals, and stap's BPF translator gives every local a slot of its own. */
static void gen_target_match(struct gen *g) {
  const struct spantap_script_opts *o = g->o;
  bool kernel = o->runtime == SPANTAP_RUNTIME_KERNEL;
  static const char exe_file[] = "@cast(exe, \"file\", \"kernel\")";
  static const char comm[] = "&@cast(@cast(task, \"task_struct\", \"kernel\")->group_leader, "
                             "\"task_struct\", \"kernel\")->comm";
  if (!o->ntargets)
    return;
  if (kernel) {
    /* the module runtime's reads fault where BPF's give 0: a kernel thread
     * (interrupted by a softirq probe) has no mm, an exiting task no file */
    emit(g, "  _mm = @cast(task, \"task_struct\", \"kernel\")->mm\n");
    emit(g, "  if (!_mm) return 0\n");
    emit(g, "  exe = @cast(_mm, \"mm_struct\", \"kernel\")->exe_file\n");
  } else {
    emit(g, "  exe = @cast(@cast(task, \"task_struct\", \"kernel\")->mm, \"mm_struct\", "
            "\"kernel\")->exe_file\n");
  }
  bool any_short_name = false;
  for (size_t i = 0; i < o->ntargets; i++)
    if (!o->targets[i].is_path && strlen(o->targets[i].name) < SPANTAP_COMM_MAX)
      any_short_name = true;
  if (any_short_name) { /* the process name, read once for every name */
    emit(g, "  c0 = _st_u64(%s)\n", comm);
    emit(g, "  c1 = _st_u64(%s + 8)\n", comm);
  }
  for (size_t i = 0; i < o->ntargets; i++) {
    const struct spantap_target *t = &o->targets[i];
    if (t->is_path) {
      emit(g, "  // target %zu: a path, matched by inode and device\n", i + 1);
      emit(g, "  %sw = %s->f_inode->i_ino; k = %llu\n", kernel ? "if (!exe) return 0\n  " : "",
           exe_file, (unsigned long long)t->ino);
      emit(g, "  if (w == k) {\n    w = %s->f_inode->i_sb->s_dev; k = %llu\n", exe_file,
           (unsigned long long)t->kdev);
      emit(g, "    if (w == k) return 1\n  }\n");
      continue;
    }
    size_t len = strlen(t->name);
    if (len < SPANTAP_COMM_MAX) {
      emit(g, "  // target %zu: a name of %zu bytes, matched by process name and file name\n",
           i + 1, len);
      emit(g, "  k = 0x%llx\n  if (c0 == k) {\n    k = 0x%llx\n    if (c1 == k) return 1\n  }\n",
           (unsigned long long)name_word(t->name, len, 0),
           (unsigned long long)name_word(t->name, len, 1));
    } else {
      /* the process name holds only the first 15 bytes, which other names share */
      emit(g, "  // target %zu: a name of %zu bytes, longer than a process name: file name only\n",
           i + 1, len);
    }
    emit(g, "  w = %s%s->f_path->dentry->d_name->len\n", kernel ? "!exe ? 0 : " : "", exe_file);
    emit(g, "  if (w == %zu) {\n    ok = 1\n", len);
    for (size_t k = 0; k * 8 < len; k++) {
      size_t rest = len - k * 8;
      unsigned long long mask = rest >= 8 ? ~0ULL : ((1ULL << (8 * rest)) - 1);
      emit(g, "    w = _st_u64(%s->f_path->dentry->d_name->name + %zu); m = 0x%llx; k = 0x%llx\n",
           exe_file, k * 8, mask, (unsigned long long)name_word(t->name, len, k));
      emit(g, "    if ((w & m) != k) ok = 0\n");
    }
    emit(g, "    if (ok) return 1\n  }\n");
  }
}

/* Interns chunk CHUNK of the stack walked so far (NFRAMES frames in _sf0..). */
static void gen_stack_chunk(struct gen *g, unsigned chunk, unsigned nframes, const char *ind) {
  if (!g->queues.stack_table_entries)
    g->queues.stack_table_entries = spantap_queue_stack_table_entries(g->queues.scale);
  int rc = spantap_queue_emit_stack_chunk(g->out, &g->queues, chunk, nframes, ind);
  if (rc < 0)
    g->err = rc;
}

/* The frame-pointer walk of the BPF runtime, unrolled (the verifier wants
 * bounded code). Input locals: _regs (user pt_regs), task. Output: _sflags and
 * _sf0.._sf<slots-1>, innermost first, 0 for an empty slot. Modes 1-2 keep only
 * frames inside the executable's own text (mm->start_code..end_code). */
static void gen_ustack_bpf(struct gen *g) {
  const struct spantap_script_opts *o = g->o;
  unsigned mode = o->stack_mode, depth = o->stack_depth;
  bool app_only = mode <= 2;
  emit(g, "      // user stack: mode %u, depth %u (frame-pointer walk)\n", mode, depth);
  emit(g, "      _sflags = 0\n");
  emit(g, "      _mm = @cast(task, \"task_struct\", \"kernel\")->mm\n");
  emit(g, "      _sc = @cast(_mm, \"mm_struct\", \"kernel\")->start_code\n");
  emit(g, "      _ec = @cast(_mm, \"mm_struct\", \"kernel\")->end_code\n");
  emit(g, "      _pc = @cast(_regs, \"pt_regs\", \"kernel\")->ip\n");
  emit(g, "      _sp = @cast(_regs, \"pt_regs\", \"kernel\")->sp\n");
  emit(g, "      _fp = @cast(_regs, \"pt_regs\", \"kernel\")->bp\n");
  /* A frameless function at the top (libc's syscall wrappers) leaves its
   * caller's return address near sp, not in the frame chain. */
  emit(g, "      _ra = 0\n");
  for (unsigned k = 0; k < SP_SCAN_WORDS; k++)
    emit(g, "      if (!_ra) { _w = _st_u64(_sp + %u); if (_w >= _sc && _w < _ec) _ra = _w }\n",
         k * 8);
  if (!app_only)
    emit(g, "      if (!_ra) _ra = _st_u64(_sp)\n");
  if (mode == 1) {
    emit(g, "      _sf0 = 0\n");
    emit(g, "      if (_pc >= _sc && _pc < _ec) _sf0 = _pc\n");
    emit(g, "      if (!_sf0) _sf0 = _ra\n");
    for (unsigned k = 2; k < depth; k++) {
      emit(g, "      if (!_sf0 && _fp) { _nfp = _st_u64(_fp); _w = _st_u64(_fp + 8)\n");
      emit(g, "        if (_w >= _sc && _w < _ec) _sf0 = _w\n");
      emit(g,
           "        if (_nfp && (_nfp <= _fp || _nfp - _fp > 1048576)) { _sflags = _sflags | %u; "
           "_nfp = 0 }\n",
           SPANTAP_STACK_UNWIND_BROKEN);
      emit(g, "        _fp = _nfp }\n");
    }
    emit(g, "      if (!_sf0 && _fp) _sflags = _sflags | %u\n", SPANTAP_STACK_TRUNCATED_BUDGET);
    return;
  }
  /* modes 2-4: frame K goes into _sf<K % 8>; beyond one frame the stack is
   * interned in chunks of 8 (runtime/queue_emit.h), so the BPF stack holds one
   * chunk of frames at a time; a deeper chunk only while the walk goes on */
  bool interned = depth > 1;
  if (interned && spantap_queue_emit_stack_start(g->out, "      ") < 0)
    g->err = -EIO;
  if (app_only) {
    emit(g, "      _sf0 = 0; if (_pc >= _sc && _pc < _ec) _sf0 = _pc\n");
  } else {
    emit(g, "      _sf0 = _pc\n");
  }
  if (depth >= 2)
    emit(g, "      _sf1 = _ra\n");
  for (unsigned k = 2; k < depth; k++) {
    unsigned chunk = k / SPANTAP_QUEUE_STACK_CHUNK, slot = k % SPANTAP_QUEUE_STACK_CHUNK;
    const char *ind = chunk ? "        " : "      ";
    if (slot == 0) {
      gen_stack_chunk(g, chunk - 1, SPANTAP_QUEUE_STACK_CHUNK, chunk > 1 ? "        " : "      ");
      if (chunk > 1)
        emit(g, "      }\n");
      emit(g, "      if (_fp) {\n");
    }
    emit(g, "%s_sf%u = 0\n", ind, slot);
    emit(g, "%sif (_fp) { _nfp = _st_u64(_fp); _w = _st_u64(_fp + 8)\n", ind);
    if (app_only)
      emit(g, "%s  if (_w >= _sc && _w < _ec) _sf%u = _w\n", ind, slot);
    else
      emit(g, "%s  _sf%u = _w\n", ind, slot);
    emit(g, "%s  if (!_w) _sflags = _sflags | %u\n", ind, SPANTAP_STACK_UNWIND_BROKEN);
    emit(g,
         "%s  if (_nfp && (_nfp <= _fp || _nfp - _fp > 1048576)) { _sflags = _sflags | %u; "
         "_nfp = 0 }\n",
         ind, SPANTAP_STACK_UNWIND_BROKEN);
    emit(g, "%s  _fp = _nfp }\n", ind);
  }
  if (interned) {
    unsigned last = (depth - 1) / SPANTAP_QUEUE_STACK_CHUNK;
    unsigned nframes = depth - last * SPANTAP_QUEUE_STACK_CHUNK;
    if (last) {
      /* a deeper chunk is always hashed whole, its empty slots 0 (the same
       * id): stap's register allocation runs out of BPF stack on some
       * partial chunks (depths 12 and 14) */
      for (unsigned k = nframes; k < SPANTAP_QUEUE_STACK_CHUNK; k++)
        emit(g, "        _sf%u = 0\n", k);
      nframes = SPANTAP_QUEUE_STACK_CHUNK;
    }
    gen_stack_chunk(g, last, nframes, last ? "        " : "      ");
    if (last)
      emit(g, "      }\n");
  }
  emit(g, "      if (_fp) _sflags = _sflags | %u\n", SPANTAP_STACK_TRUNCATED_BUDGET);
}

/* The module runtime unwinds with stap's own DWARF unwinder (_st_ustk in
 * runtime_kernel.stp: the pc first, each frame once, quiet at the end of the
 * stack), or with --unwind fp walks frame pointers (_st_ustk_fp); the
 * collector applies the mode's frame selection. Output: the token in _ustk. */
static void gen_ustack_kernel(struct gen *g) {
  const struct spantap_script_opts *o = g->o;
  emit(g, "      // user stack: mode %u, depth %u (%s)\n", o->stack_mode, o->stack_depth,
       o->unwind_fp ? "frame-pointer walk" : "stap's unwinder");
  emit(g, "      _ustk = \"@2\"\n");
  emit(g, "      if (_regs) _ustk = %s(%u)\n", o->unwind_fp ? "_st_ustk_fp" : "_st_ustk",
       o->stack_depth);
}

/* The record kind a placeholder names (@@EMIT:SYSCALL@@: the enum's
 * spelling), or NULL. */
static const struct spantap_record_desc *kind_named(const char *kind_tag) {
  static const char *const kinds[] = {
#define SPANTAP_KIND_NAME(kind, tag, fields, stack, text, script) #kind,
      SPANTAP_RECORDS(SPANTAP_KIND_NAME)
#undef SPANTAP_KIND_NAME
  };
  for (unsigned k = 0; k < SPANTAP_REC__COUNT; k++)
    if (strcmp(kinds[k], kind_tag) == 0)
      return spantap_record_desc_get(k);
  return NULL;
}

/* The BPF runtime: the record goes into a queue of its own (one per site). */
static void gen_emit_queue(struct gen *g, const struct spantap_record_desc *d) {
  unsigned slots = d->has_stack ? spantap_script_stack_slots(g->o) : 0;
  /* begin and end probes run in stapbpf's interpreter */
  bool user_space = d->kind == SPANTAP_REC_BEGIN || d->kind == SPANTAP_REC_END;
  int qid = spantap_queue_set_add(&g->queues, d->kind, slots, user_space);
  if (qid < 0) {
    g->err = qid;
    return;
  }
  int rc = spantap_queue_emit_record(g->out, &g->queues, (unsigned)qid, "      ");
  if (rc < 0)
    g->err = rc;
}

/* Writes a record of KIND_TAG: a printf for the module runtime (and TEXT),
 * a queue record for the BPF runtime. */
static void gen_emit(struct gen *g, const char *kind_tag, bool text) {
  const struct spantap_record_desc *d = kind_named(kind_tag);
  if (!d || !d->written_by_script) {
    g->err = -EINVAL;
    return;
  }
  if (g->o->runtime == SPANTAP_RUNTIME_BPF && !text) {
    gen_emit_queue(g, d);
    return;
  }
  bool bpf = g->o->runtime == SPANTAP_RUNTIME_BPF;
  unsigned slots = d->has_stack ? spantap_script_stack_slots(g->o) : 0;
  emit(g, "      printf(\"%s", d->tag);
  if (bpf) {
    for (unsigned i = 0; i < d->nfields; i++)
      emit(g, " %%ld");
  } else { /* the numbers come joined by _st_decN (gen_decimal_joiners) */
    emit(g, " %%s");
  }
  if (slots) {
    if (bpf) {
      emit(g, " @%%ld");
      for (unsigned i = 0; i < slots; i++)
        emit(g, ",%%lx");
    } else {
      emit(g, " %%s");
    }
  }
  if (d->has_text)
    emit(g, " %%s");
  emit(g, "\\n\"");
  if (bpf) {
    for (unsigned i = 0; i < d->nfields; i++)
      emit(g, ", %s", d->field_names[i]);
  } else {
    emit(g, ", _st_dec%u(", d->nfields);
    for (unsigned i = 0; i < d->nfields; i++)
      emit(g, "%s%s", i ? ", " : "", d->field_names[i]);
    emit(g, ")");
  }
  if (slots) {
    if (bpf) {
      emit(g, ", _sflags");
      for (unsigned i = 0; i < slots; i++)
        emit(g, ", _sf%u", i);
    } else {
      emit(g, ", _ustk");
    }
  }
  if (d->has_text)
    emit(g, ", text");
  emit(g, ")\n");
}

/* The module runtime's _st_decN functions (runtime_kernel.stp's
 * _st_put_dec): the N numbers of a record in decimal, separated by spaces,
 * as one string; one function for each field count a record written by the
 * script has. */
static void gen_decimal_joiners(struct gen *g) {
  bool used[SPANTAP_MAX_FIELDS + 1] = {false};
  for (unsigned k = 0; k < SPANTAP_REC__COUNT; k++) {
    const struct spantap_record_desc *d = spantap_record_desc_get(k);
    if (d->written_by_script && d->nfields >= 1 && d->nfields <= SPANTAP_MAX_FIELDS)
      used[d->nfields] = true;
  }
  for (unsigned n = 1; n <= SPANTAP_MAX_FIELDS; n++) {
    if (!used[n])
      continue;
    emit(g, "function _st_dec%u:string (", n);
    for (unsigned i = 0; i < n; i++)
      emit(g, "%sv%u:long", i ? ", " : "", i);
    emit(g, ") %%{ /* pure */\n");
    /* each number takes at most 20 bytes and its separator one */
    emit(g, "  char *p = STAP_RETVALUE;\n  BUILD_BUG_ON(%u * 21 + 1 > MAXSTRINGLEN);\n", n);
    for (unsigned i = 0; i < n; i++)
      emit(g, "  %sp += _st_put_dec(p, STAP_ARG_v%u);\n", i ? "*p++ = ' '; " : "", i);
    emit(g, "  *p = '\\0';\n%%}\n");
  }
}

static void gen_syscall_want(struct gen *g) {
  unsigned classes = g->o->classes;
  unsigned on_line = 0;
  for (long nr = 0; nr < SPANTAP_SYSCALL_MAX; nr++) {
    struct spantap_syscall_info info;
    if (spantap_syscall_info(nr, &info) < 0 || !info.name)
      continue;
    unsigned bits = 0;
    unsigned matched = info.classes & classes;
    /* executable mappings are followed whenever stacks are kept */
    if (g->o->stack_mode && strcmp(info.name, "mmap") == 0)
      bits |= WANT_EXEC_MAPS;
    if (!matched && !bits)
      continue;
    if (matched) /* else followed only for its mappings */
      bits |= info.net_if_sock && matched == SPANTAP_CLASS_NET ? WANT_IF_SOCKET : WANT_RECORD;
    if (classes & SPANTAP_CLASS_NET) {
      if (info.fd_arg0)
        bits |= WANT_FD_ARG0;
      if (info.fd_ret)
        bits |= WANT_FD_RET;
    }
    emit(g, "%s_st_want[%ld] = %u", on_line ? "; " : "  ", nr, bits);
    if (++on_line == 6) {
      emit(g, "\n");
      on_line = 0;
    }
  }
  if (on_line)
    emit(g, "\n");
}

/* The comment lines explaining the want bits: two bits a line, as
 * "//   BIT meaning; BIT meaning;", the last one ending with a period. */
static void gen_want_bits_doc(struct gen *g) {
  size_t n = sizeof want_bits / sizeof want_bits[0];
  for (size_t i = 0; i < n; i++) {
    bool last = i + 1 == n, line_end = last || i % 2 == 1;
    emit(g, "%s%u %s%s", i % 2 == 0 ? "//   " : " ", want_bits[i].bit, want_bits[i].meaning,
         last       ? ".\n"
         : line_end ? ";\n"
                    : ";");
  }
}

/* Expands @@NR:<name>@@ (a syscall's number from the table) or a named
 * constant. Returns false when NAME is neither. */
static bool expand_constant(struct gen *g, const char *name, size_t len) {
  if (len > 3 && strncmp(name, "NR:", 3) == 0) {
    char sys[64];
    snprintf(sys, sizeof sys, "%.*s", (int)(len - 3), name + 3);
    long nr = spantap_syscall_by_name(sys);
    if (nr < 0)
      return false;
    emit(g, "%ld", nr);
    return true;
  }
  for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++) {
    if (strlen(constants[i].name) == len && strncmp(constants[i].name, name, len) == 0) {
      emit(g, "%ld", constants[i].value);
      return true;
    }
  }
  return false;
}

static void expand(struct gen *g, const char *name, size_t len) {
  const struct spantap_script_opts *o = g->o;
#define IS(s) (len == strlen(s) && strncmp(name, s, len) == 0)
  if (IS("MAP_SIZE"))
    emit(g, "%d", MAP_SIZE);
  else if (IS("THREAD_MAP_SIZE"))
    emit(g, "%d", THREAD_MAP_SIZE);
  else if (IS("SOCK_MAP_SIZE"))
    emit(g, "%d", SOCK_MAP_SIZE);
  else if (IS("FOLLOW_EXEC"))
    emit(g, "%d", o->follow_exec ? 1 : 0);
  else if (IS("FORMAT_VERSION"))
    emit(g, "%d", SPANTAP_RECORD_FORMAT_VERSION);
  else if (IS("STACK_MODE"))
    emit(g, "%u", o->stack_mode);
  else if (IS("STACK_DEPTH"))
    emit(g, "%u", o->stack_depth);
  else if (IS("RUNTIME"))
    emit(g, "%s", spantap_runtime_name(o->runtime));
  else if (IS("SELF_PID") && o->runtime == SPANTAP_RUNTIME_KERNEL)
    emit(g, "%s", SPANTAP_KPARAM_SELF_PID); /* set at load: the script stays the same */
  else if (IS("LAUNCH_PID") && o->runtime == SPANTAP_RUNTIME_KERNEL)
    emit(g, "%s", SPANTAP_KPARAM_LAUNCH_PID);
  else if (IS("SELF_PID") && o->self_pid_at_load)
    emit(g, "target()"); /* stapbpf -x PID */
  else if (IS("SELF_PID"))
    emit(g, "%ld", (long)o->self_pid);
  else if (IS("LAUNCH_PID"))
    emit(g, "%ld", o->launch_pid > 0 ? (long)o->launch_pid : -1L);
  else if (IS("ATTACH_GLOBALS"))
    for (unsigned i = 0; i < SPANTAP_KPARAM_ATTACH_SLOTS; i++)
      emit(g, "global %s%u = -1 // --pid\n", SPANTAP_KPARAM_ATTACH_PREFIX, i);
  else if (IS("TARGET_MATCH"))
    gen_target_match(g);
  else if (IS("NEVER_TRACED") && o->runtime == SPANTAP_RUNTIME_KERNEL)
    emit(g, "  if (p == %s) return 2 // spantap itself\n", SPANTAP_KPARAM_SELF_PID);
  else if (IS("NEVER_TRACED") && o->self_pid_at_load)
    emit(g, "  if (p == target()) return 2 // spantap itself (stapbpf -x PID)\n");
  else if (IS("NEVER_TRACED"))
    emit(g, "  if (p == %ld) return 2 // spantap itself\n", (long)o->self_pid);
  else if (IS("ATTACH_PIDS") && o->runtime == SPANTAP_RUNTIME_KERNEL)
    for (unsigned i = 0; i < SPANTAP_KPARAM_ATTACH_SLOTS; i++)
      emit(g, "  if (p == %s%u) return 1 // --pid\n", SPANTAP_KPARAM_ATTACH_PREFIX, i);
  else if (IS("ATTACH_PIDS"))
    for (size_t i = 0; i < o->nattach; i++)
      emit(g, "  if (p == %ld) return 1 // --pid\n", (long)o->attach_pids[i]);
  else if (IS("SYSCALL_WANT"))
    gen_syscall_want(g);
  else if (IS("DECIMAL_JOINERS") && o->runtime == SPANTAP_RUNTIME_KERNEL)
    gen_decimal_joiners(g);
  else if (IS("USTACK")) {
    if (o->stack_mode == 0)
      return;
    if (o->runtime == SPANTAP_RUNTIME_BPF)
      gen_ustack_bpf(g);
    else
      gen_ustack_kernel(g);
  } else if (len > 5 && strncmp(name, "EMIT:", 5) == 0) {
    char kind[32];
    snprintf(kind, sizeof kind, "%.*s", (int)(len - 5), name + 5);
    gen_emit(g, kind, false);
  } else if (len > 10 && strncmp(name, "EMIT_TEXT:", 10) == 0) {
    char kind[32];
    snprintf(kind, sizeof kind, "%.*s", (int)(len - 10), name + 10);
    gen_emit(g, kind, true);
  } else if (IS("WANT_BITS_DOC")) {
    gen_want_bits_doc(g);
  } else if (!expand_constant(g, name, len)) {
    g->err = -EINVAL;
  }
#undef IS
}

/* Copies template NAME to the output, expanding placeholders. A placeholder
 * alone on a line replaces the whole line. */
static int put_template(struct gen *g, const char *tname, char *err, size_t errlen) {
  const char *p = template_text(tname);
  if (!p) {
    snprintf(err, errlen, "Failed to find template: name=%s", tname);
    return -EINVAL;
  }
  emit(g, "\n// ---- %s\n", tname);
  while (*p) {
    const char *start = strstr(p, "@@");
    if (!start) {
      emit(g, "%s", p);
      break;
    }
    const char *end = strstr(start + 2, "@@");
    if (!end) {
      snprintf(err, errlen, "Failed to expand template: name=%s unterminated placeholder", tname);
      return -EINVAL;
    }
    bool own_line = (start == p || start[-1] == '\n') && end[2] == '\n';
    emit(g, "%.*s", (int)(start - p), p);
    expand(g, start + 2, (size_t)(end - start - 2));
    if (g->err) {
      snprintf(err, errlen, "Failed to expand placeholder: template=%s placeholder=%.*s", tname,
               (int)(end - start - 2), start + 2);
      return g->err;
    }
    p = end + 2;
    if (own_line)
      p++;
  }
  return g->err;
}

/* Copies TEXT to OUT with every "kernel" type source of a @cast replaced by
 * the module runtime's: the kernel's headers (stap compiles the types from
 * them), so no kernel DWARF (a -dbg package of ~1 GB) is needed. */
static int put_header_casts(const char *text, FILE *out) {
  static const char from[] = "\"kernel\")";
  const char *p = text, *q;
  while ((q = strstr(p, from))) {
    if (fprintf(out, "%.*s\"kernel%s\")", (int)(q - p), p, SPANTAP_KERNEL_CAST_HEADERS) < 0)
      return -EIO;
    p = q + strlen(from);
  }
  return fputs(p, out) < 0 ? -EIO : 0;
}

/* The BPF runtime's queues: their maps and the begin probe that publishes
 * them, after every probe that writes a record (that added the queues). */
static void gen_queue_maps(struct gen *g) {
  emit(g, "\n// ---- record queues (docs/bpf-transport.md)\n");
  if (spantap_queue_emit_globals(g->out, &g->queues) < 0 ||
      spantap_queue_emit_begin(g->out, &g->queues) < 0)
    g->err = -EIO;
}

static int generate(struct gen *g, char *err, size_t errlen) {
  const struct spantap_script_opts *o = g->o;
  int rc = spantap_script_opts_check(o, err, errlen);
  if (rc < 0)
    return rc;
  if (o->runtime == SPANTAP_RUNTIME_BPF &&
      spantap_queue_set_init(&g->queues, o->queue_cookie, o->queue_ncpu,
                             o->queue_scale ? o->queue_scale : SPANTAP_QUEUE_SCALE_DEFAULT) < 0) {
    snprintf(err, errlen,
             "invalid record queues: cookie=0x%llx ncpu=%u scale=%u (the BPF runtime needs a "
             "cookie from spantap_queue_cookie_new and 1-%d CPUs)",
             (unsigned long long)o->queue_cookie, o->queue_ncpu, o->queue_scale,
             SPANTAP_QUEUE_MAX_CPUS);
    return -EINVAL;
  }
  emit(g, "// Generated by spantap: record format %d, runtime %s, stack mode %u depth %u,\n",
       SPANTAP_RECORD_FORMAT_VERSION, spantap_runtime_name(o->runtime), o->stack_mode,
       o->stack_depth);
  if (o->runtime == SPANTAP_RUNTIME_KERNEL) /* no pid: the same options, the same script */
    emit(g, "// %zu target binaries, follow exec %s.\n", o->ntargets,
         o->follow_exec ? "yes" : "no");
  else
    emit(g, "// %zu target binaries, %zu attached pids, launched pid %ld, follow exec %s.\n",
         o->ntargets, o->nattach, (long)o->launch_pid, o->follow_exec ? "yes" : "no");
  const char *parts[8];
  size_t n = 0;
  parts[n++] = o->runtime == SPANTAP_RUNTIME_BPF ? "runtime_bpf.stp" : "runtime_kernel.stp";
  parts[n++] = "trace_map.stp";
  parts[n++] = "syscalls.stp"; /* also carries the ready handshake */
  if (o->extras & SPANTAP_EXTRA_TCP)
    parts[n++] = "tcp.stp";
  if (o->extras & SPANTAP_EXTRA_SCHED)
    parts[n++] = "sched.stp";
  if (o->extras & SPANTAP_EXTRA_FAULTS)
    parts[n++] = "faults.stp";
  for (size_t i = 0; i < n; i++) {
    rc = put_template(g, parts[i], err, errlen);
    if (rc < 0)
      return rc;
  }
  if (o->runtime == SPANTAP_RUNTIME_BPF)
    gen_queue_maps(g);
  if (fflush(g->out) != 0 || g->err) {
    snprintf(err, errlen, "Failed to write script: errno=%d", errno);
    return -EIO;
  }
  return 0;
}

int spantap_script_generate(const struct spantap_script_opts *o, FILE *out, char *err,
                            size_t errlen) {
  struct gen g = {.o = o, .out = out};
  if (o->runtime != SPANTAP_RUNTIME_KERNEL)
    return generate(&g, err, errlen);
  /* the module runtime: the script's casts then read the kernel's headers */
  char *text = NULL;
  size_t len = 0;
  g.out = open_memstream(&text, &len);
  if (!g.out) {
    snprintf(err, errlen, "Failed to generate script: errno=%s", strerror(errno));
    return -ENOMEM;
  }
  int rc = generate(&g, err, errlen);
  if (fclose(g.out) != 0 && rc == 0) {
    snprintf(err, errlen, "Failed to generate script: out of memory");
    rc = -ENOMEM;
  }
  if (rc == 0 && (put_header_casts(text, out) < 0 || fflush(out) != 0)) {
    snprintf(err, errlen, "Failed to write script: errno=%s", strerror(errno));
    rc = -EIO;
  }
  free(text);
  return rc;
}

size_t spantap_script_queue_memory(const struct spantap_script_opts *o) {
  if (o->runtime != SPANTAP_RUNTIME_BPF)
    return 0;
  FILE *null = fopen("/dev/null", "we");
  if (!null)
    return 0;
  struct spantap_script_opts so = *o;
  if (!so.ntargets && !so.nattach && so.launch_pid <= 0)
    so.launch_pid = 1; /* the command is forked later: its queues are the same */
  struct gen g = {.o = &so, .out = null};
  char err[256];
  int rc = generate(&g, err, sizeof err);
  fclose(null);
  return rc < 0 ? 0 : spantap_queue_set_memory_bytes(&g.queues);
}
