/* spantap export pprof: user stacks as a gzip'd profile.proto (the schema
 * golang-github-google-pprof-dev ships). Samples are (stack, process,
 * syscall) groups with values [syscalls, syscall time, off-CPU time] and
 * labels service and syscall; the syscall is the leaf frame. The profile is
 * written as consecutive Profile messages, which protobuf merges into one:
 * samples in batches, each carrying the strings it added to the string table
 * (string_table[0] is ""), then every frame, function and module. Memory
 * grows with the distinct strings (symbols, services), not with the rows. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/string_table.h"
#include "export/export.h"
#include "export/sql_rows.h"
#include "export/stack_text.h"
#include "profile.pb-c.h"

typedef Perftools__Profiles__Profile Profile;
typedef Perftools__Profiles__Sample Sample;
typedef Perftools__Profiles__Label Label;

#define SAMPLE_BATCH 1024
#define NVALUES 3 /* syscalls, syscall_time, offcpu_time */

/* ---- the profile ---- */

struct pprof {
  const struct spantap_export_recording *rec;
  const struct spantap_export_sink *sink;
  struct spantap_string_table strings;
  size_t strings_written; /* strings already sent in a message */
  int64_t *leaf_loc;      /* by string index of a syscall name: its leaf location id, 0 none */
  size_t nleaf;
  uint64_t next_loc; /* ids after the frames' own */
  uint64_t offcpu_loc;
  Sample samples[SAMPLE_BATCH];
  Sample *sample_ptrs[SAMPLE_BATCH];
  uint64_t loc_ids[SAMPLE_BATCH][SPANTAP_STACK_TEXT_FRAMES + 1];
  int64_t values[SAMPLE_BATCH][NVALUES];
  Label labels[SAMPLE_BATCH][2];
  Label *label_ptrs[SAMPLE_BATCH][2];
  size_t nsamples;
  /* the tables' messages: mappings, then locations with their functions */
  Perftools__Profiles__Mapping maps[SAMPLE_BATCH], *map_ptrs[SAMPLE_BATCH];
  Perftools__Profiles__Location locs[SAMPLE_BATCH], *loc_ptrs[SAMPLE_BATCH];
  Perftools__Profiles__Function funcs[SAMPLE_BATCH], *func_ptrs[SAMPLE_BATCH];
  Perftools__Profiles__Line lines[SAMPLE_BATCH], *line_ptrs[SAMPLE_BATCH];
  char *err;
  size_t errlen;
};

static int oom(struct pprof *p) {
  snprintf(p->err, p->errlen, "Failed to allocate the pprof profile: strings=%zu",
           p->strings.count);
  return -ENOMEM;
}

/* Writes MSG with the strings added since the last message. */
static int write_message(struct pprof *p, Profile *msg) {
  msg->string_table = p->strings.strings + p->strings_written;
  msg->n_string_table = p->strings.count - p->strings_written;
  size_t len = perftools__profiles__profile__get_packed_size(msg);
  uint8_t *buf = malloc(len ? len : 1);
  if (!buf)
    return oom(p);
  perftools__profiles__profile__pack(msg, buf);
  int rc = p->sink->write(p->sink->ctx, buf, len, p->err, p->errlen);
  free(buf);
  if (rc == 0)
    p->strings_written = p->strings.count;
  return rc;
}

static int flush_samples(struct pprof *p) {
  if (p->nsamples == 0)
    return 0;
  Profile msg = PERFTOOLS__PROFILES__PROFILE__INIT;
  msg.sample = p->sample_ptrs;
  msg.n_sample = p->nsamples;
  p->nsamples = 0;
  return write_message(p, &msg);
}

/* The leaf location of syscall NAME (string index NAME_IDX). */
static int64_t leaf_location(struct pprof *p, int64_t name_idx) {
  if ((size_t)name_idx >= p->nleaf) {
    size_t n = (size_t)name_idx * 2 + 64;
    int64_t *grown = realloc(p->leaf_loc, n * sizeof *grown);
    if (!grown)
      return -ENOMEM;
    memset(grown + p->nleaf, 0, (n - p->nleaf) * sizeof *grown);
    p->leaf_loc = grown, p->nleaf = n;
  }
  if (!p->leaf_loc[name_idx])
    p->leaf_loc[name_idx] = (int64_t)p->next_loc++;
  return p->leaf_loc[name_idx];
}

/* Adds one sample: the leaf LEAF_LOC, the frames of STACK_ID (innermost
 * first), VALUES, and the service and syscall labels. */
static int add_sample(struct pprof *p, sqlite3_stmt *frames, int64_t stack_id, uint64_t leaf_loc,
                      const int64_t *values, int64_t service_idx, int64_t syscall_idx) {
  if (p->nsamples == SAMPLE_BATCH) {
    int rc = flush_samples(p);
    if (rc < 0)
      return rc;
  }
  size_t i = p->nsamples++;
  Sample *s = &p->samples[i];
  perftools__profiles__sample__init(s);
  uint64_t *locs = p->loc_ids[i];
  size_t n = 0;
  locs[n++] = leaf_loc;
  if (stack_id) {
    sqlite3_reset(frames);
    sqlite3_bind_int64(frames, 1, stack_id);
    int got;
    while (n < SPANTAP_STACK_TEXT_FRAMES + 1 &&
           (got = spantap_rows_next(frames, "stack frames", p->err, p->errlen)) == 1)
      locs[n++] = (uint64_t)spantap_rows_int(frames, 0);
    if (got < 0 && n < SPANTAP_STACK_TEXT_FRAMES + 1)
      return got;
    sqlite3_reset(frames);
  }
  s->location_id = locs;
  s->n_location_id = n;
  memcpy(p->values[i], values, sizeof p->values[i]);
  s->value = p->values[i];
  s->n_value = NVALUES;
  size_t nl = 0;
  int64_t keys[2] = {spantap_string_table_index(&p->strings, "service"),
                     spantap_string_table_index(&p->strings, "syscall")};
  int64_t vals[2] = {service_idx, syscall_idx};
  if (keys[0] < 0 || keys[1] < 0)
    return oom(p);
  for (int k = 0; k < 2; k++) {
    if (vals[k] < 0)
      continue;
    Label *l = &p->labels[i][nl];
    perftools__profiles__label__init(l);
    l->key = keys[k];
    l->str = vals[k];
    p->label_ptrs[i][nl++] = l;
  }
  s->label = p->label_ptrs[i];
  s->n_label = nl;
  p->sample_ptrs[i] = s;
  return 0;
}

static int64_t service_of(struct pprof *p, sqlite3_stmt *st, int col, int64_t pid) {
  char buf[64];
  const char *exe = spantap_rows_text(st, col, NULL);
  if (!exe)
    snprintf(buf, sizeof buf, "pid %lld", (long long)pid);
  return spantap_string_table_index(&p->strings, exe ? spantap_rows_basename(exe) : buf);
}

static int write_samples(struct pprof *p, sqlite3_stmt *frames) {
  sqlite3_stmt *st;
  int rc = spantap_rows_prepare(p->rec->db,
                                "SELECT s.stack_id, s.pid, p.exe, s.name, count(*), sum(s.dur_ns)"
                                " FROM syscalls s LEFT JOIN processes p ON p.pid = s.pid"
                                " GROUP BY s.stack_id, s.pid, s.name",
                                "syscalls by stack", &st, p->err, p->errlen);
  int got = 0;
  while (rc == 0 && (got = spantap_rows_next(st, "syscalls by stack", p->err, p->errlen)) == 1) {
    int64_t service = service_of(p, st, 2, spantap_rows_int(st, 1));
    int64_t name = spantap_string_table_index(&p->strings, spantap_rows_text(st, 3, "?"));
    int64_t leaf = name >= 0 ? leaf_location(p, name) : -ENOMEM;
    if (service < 0 || leaf < 0)
      rc = oom(p);
    int64_t values[NVALUES] = {spantap_rows_int(st, 4), spantap_rows_int(st, 5), 0};
    if (rc == 0)
      rc = add_sample(p, frames, spantap_rows_int(st, 0), (uint64_t)leaf, values, service, name);
  }
  sqlite3_finalize(st);
  if (rc < 0 || got < 0)
    return rc < 0 ? rc : got;
  /* off-CPU time (--events sched) has no stack: one sample per process */
  rc = spantap_rows_prepare(p->rec->db,
                            "SELECT o.pid, p.exe, sum(o.dur_ns) FROM offcpu o"
                            " LEFT JOIN processes p ON p.pid = o.pid GROUP BY o.pid",
                            "off-CPU time", &st, p->err, p->errlen);
  while (rc == 0 && (got = spantap_rows_next(st, "off-CPU time", p->err, p->errlen)) == 1) {
    int64_t service = service_of(p, st, 1, spantap_rows_int(st, 0));
    if (service < 0)
      rc = oom(p);
    int64_t values[NVALUES] = {0, 0, spantap_rows_int(st, 2)};
    if (rc == 0)
      rc = add_sample(p, frames, 0, p->offcpu_loc, values, service, -1);
  }
  sqlite3_finalize(st);
  if (rc == 0 && got < 0)
    rc = got;
  return rc < 0 ? rc : flush_samples(p);
}

/* Mappings (modules), then each frame as a location with its function, then
 * the synthetic leaves, in messages of at most SAMPLE_BATCH entries. */
static int write_tables(struct pprof *p) {
  sqlite3_stmt *st;
  int rc = spantap_rows_prepare(p->rec->db, "SELECT id, path, build_id FROM modules", "modules",
                                &st, p->err, p->errlen);
  Perftools__Profiles__Mapping *maps = p->maps, **map_ptrs = p->map_ptrs;
  size_t n = 0;
  int got = 0;
  while (rc == 0 && (got = spantap_rows_next(st, "modules", p->err, p->errlen)) >= 0) {
    if (got == 1) {
      Perftools__Profiles__Mapping *m = &maps[n];
      perftools__profiles__mapping__init(m);
      m->id = (uint64_t)spantap_rows_int(st, 0);
      m->filename = spantap_string_table_index(&p->strings, spantap_rows_text(st, 1, "?"));
      m->build_id = spantap_string_table_index(&p->strings, spantap_rows_text(st, 2, ""));
      m->has_functions = true; /* symbolized at record time: pprof must not try again */
      m->has_filenames = m->has_line_numbers = true;
      if (m->filename < 0 || m->build_id < 0)
        rc = oom(p);
      map_ptrs[n++] = m;
    }
    if (rc == 0 && n && (got == 0 || n == SAMPLE_BATCH)) {
      Profile msg = PERFTOOLS__PROFILES__PROFILE__INIT;
      msg.mapping = map_ptrs;
      msg.n_mapping = n;
      n = 0;
      rc = write_message(p, &msg);
    }
    if (got == 0)
      break;
  }
  sqlite3_finalize(st);
  if (rc < 0 || got < 0)
    return rc < 0 ? rc : got;

  rc = spantap_rows_prepare(p->rec->db,
                            "SELECT f.id, f.module_id, f.rel_addr, f.function, f.file, f.line,"
                            " m.path FROM frames f LEFT JOIN modules m ON m.id = f.module_id",
                            "frames", &st, p->err, p->errlen);
  Perftools__Profiles__Location *locs = p->locs, **loc_ptrs = p->loc_ptrs;
  Perftools__Profiles__Function *funcs = p->funcs, **func_ptrs = p->func_ptrs;
  Perftools__Profiles__Line *lines = p->lines, **line_ptrs = p->line_ptrs;
  size_t leaf = 0; /* after the frames: the synthetic leaves, by string index */
  bool frames_done = false;
  n = 0;
  while (rc == 0) {
    char name[200];
    const char *file = NULL;
    uint64_t id = 0, mapping = 0, addr = 0;
    int64_t line = 0;
    if (!frames_done) {
      got = spantap_rows_next(st, "frames", p->err, p->errlen);
      if (got < 0) {
        rc = got;
        break;
      }
      frames_done = got == 0;
      if (got == 1) {
        id = (uint64_t)spantap_rows_int(st, 0);
        mapping = (uint64_t)spantap_rows_int(st, 1);
        addr = (uint64_t)spantap_rows_int(st, 2);
        spantap_stack_frame_name(spantap_rows_text(st, 3, NULL), spantap_rows_text(st, 6, NULL),
                                 spantap_rows_int(st, 2), name, sizeof name);
        file = spantap_rows_text(st, 4, NULL);
        line = spantap_rows_int(st, 5);
      }
    }
    if (frames_done && !id) {
      while (leaf < p->nleaf && !p->leaf_loc[leaf])
        leaf++;
      if (leaf < p->nleaf) {
        id = (uint64_t)p->leaf_loc[leaf];
        snprintf(name, sizeof name, "%s", p->strings.strings[leaf]);
        leaf++;
      } else if (p->offcpu_loc) {
        id = p->offcpu_loc;
        snprintf(name, sizeof name, "[off-cpu]");
        p->offcpu_loc = 0;
      }
    }
    if (id) {
      Perftools__Profiles__Function *f = &funcs[n];
      perftools__profiles__function__init(f);
      f->id = id;
      f->name = f->system_name = spantap_string_table_index(&p->strings, name);
      f->filename = spantap_string_table_index(&p->strings, file ? file : "");
      Perftools__Profiles__Line *l = &lines[n];
      perftools__profiles__line__init(l);
      l->function_id = id;
      l->line = line;
      line_ptrs[n] = l;
      Perftools__Profiles__Location *loc = &locs[n];
      perftools__profiles__location__init(loc);
      loc->id = id;
      loc->mapping_id = mapping;
      loc->address = addr;
      loc->line = &line_ptrs[n];
      loc->n_line = 1;
      func_ptrs[n] = f;
      loc_ptrs[n++] = loc;
      if (f->name < 0 || f->filename < 0)
        rc = oom(p);
    }
    if (rc == 0 && n && (!id || n == SAMPLE_BATCH)) {
      Profile msg = PERFTOOLS__PROFILES__PROFILE__INIT;
      msg.location = loc_ptrs;
      msg.n_location = n;
      msg.function = func_ptrs;
      msg.n_function = n;
      n = 0;
      rc = write_message(p, &msg);
    }
    if (!id)
      break;
  }
  sqlite3_finalize(st);
  return rc;
}

int spantap_export_pprof(const struct spantap_export_recording *rec,
                         const struct spantap_export_sink *sink, char *err, size_t errlen) {
  struct pprof *p = calloc(1, sizeof *p);
  if (!p) {
    snprintf(err, errlen, "Failed to allocate the pprof profile");
    return -ENOMEM;
  }
  p->rec = rec, p->sink = sink, p->err = err, p->errlen = errlen;
  sqlite3_stmt *frames = NULL;
  int rc = spantap_string_table_index(&p->strings, "") == 0 ? 0 : oom(p);
  /* the first message: the sample types, and the profile's own fields */
  static const char *const types[NVALUES][2] = {
      {"syscalls", "count"}, {"syscall_time", "nanoseconds"}, {"offcpu_time", "nanoseconds"}};
  Perftools__Profiles__ValueType vt[NVALUES], *vt_ptrs[NVALUES], period_type;
  for (int i = 0; rc == 0 && i < NVALUES; i++) {
    perftools__profiles__value_type__init(&vt[i]);
    vt[i].type = spantap_string_table_index(&p->strings, types[i][0]);
    vt[i].unit = spantap_string_table_index(&p->strings, types[i][1]);
    vt_ptrs[i] = &vt[i];
    if (vt[i].type < 0 || vt[i].unit < 0)
      rc = oom(p);
  }
  if (rc == 0) {
    Profile msg = PERFTOOLS__PROFILES__PROFILE__INIT;
    msg.sample_type = vt_ptrs;
    msg.n_sample_type = NVALUES;
    msg.default_sample_type = vt[1].type;
    perftools__profiles__value_type__init(&period_type);
    period_type = vt[0];
    msg.period_type = &period_type;
    msg.period = 1;
    int64_t start = rec->started_ns + rec->wall_clock_offset_ns;
    msg.time_nanos = rec->wall_clock_offset_ns ? start : 0;
    msg.duration_nanos = rec->ended_ns > rec->started_ns ? rec->ended_ns - rec->started_ns : 0;
    rc = write_message(p, &msg);
  }
  sqlite3_stmt *max_id;
  if (rc == 0)
    rc = spantap_rows_prepare(rec->db, "SELECT coalesce(max(id), 0) FROM frames", "frames", &max_id,
                              err, errlen);
  if (rc == 0) {
    int got = spantap_rows_next(max_id, "frames", err, errlen);
    p->next_loc = got == 1 ? (uint64_t)spantap_rows_int(max_id, 0) + 1 : 1;
    p->offcpu_loc = p->next_loc++;
    sqlite3_finalize(max_id);
    rc = got < 0 ? got : 0;
  }
  if (rc == 0)
    rc = spantap_rows_prepare(rec->db,
                              "SELECT frame_id FROM stack_frames WHERE stack_id = ? ORDER BY idx",
                              "stack frames", &frames, err, errlen);
  if (rc == 0)
    rc = write_samples(p, frames);
  if (rc == 0)
    rc = write_tables(p);
  sqlite3_finalize(frames);
  spantap_string_table_free(&p->strings);
  free(p->leaf_loc);
  free(p);
  return rc;
}
