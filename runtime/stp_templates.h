/* The SystemTap templates of stp/, compiled into spantap (see
 * tools/embed-templates.sh). */
#ifndef SPANTAP_STP_TEMPLATES_H
#define SPANTAP_STP_TEMPLATES_H

struct spantap_stp_template {
  const char *name; /* file name in stp/, e.g. "trace_map.stp" */
  const char *text;
};

/* Terminated by an entry whose name is NULL. */
extern const struct spantap_stp_template spantap_stp_templates[];

#endif
