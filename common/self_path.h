/* Where the running spantap program lies, so that it finds what was built or
 * installed beside it (the demo, the memlock shim) wherever it is run from. */
#ifndef SPANTAP_COMMON_SELF_PATH_H
#define SPANTAP_COMMON_SELF_PATH_H

#include <stddef.h>

/* Writes the directory of this program's executable (/proc/self/exe without its
 * file name) into DIR. Returns 0, or a negative errno (-ENAMETOOLONG when LEN is
 * too small) with DIR empty. */
int spantap_self_dir(char *dir, size_t len);

#endif
