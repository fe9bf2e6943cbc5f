/* `spantap script`: prints the generated SystemTap script. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"

int spantap_cmd_script(int argc, char **argv) {
  struct spantap_trace_options o;
  int rc = spantap_trace_options_parse(argc, argv, false, &o);
  if (rc)
    return rc > 0 ? SPANTAP_EXIT_OK : SPANTAP_EXIT_USAGE;
  enum spantap_runtime rt;
  spantap_runtime_parse(o.runtime, &rt);
  struct spantap_script_opts so;
  char err[256];
  if (spantap_trace_options_to_script(&o, rt, 0, &so, err, sizeof err) < 0 ||
      spantap_script_generate(&so, stdout, err, sizeof err) < 0) {
    fprintf(stderr, "spantap script: %s\n", err);
    return SPANTAP_EXIT_FAIL;
  }
  return SPANTAP_EXIT_OK;
}
