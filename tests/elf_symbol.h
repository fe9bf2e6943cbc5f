/* Test helper: symbol addresses read straight from an ELF file's symbol
 * table, to check the symbolizer against an answer it did not compute. */
#ifndef SPANTAP_TESTS_ELF_SYMBOL_H
#define SPANTAP_TESTS_ELF_SYMBOL_H

#include <stdint.h>

/* The ELF address (st_value) of symbol NAME in PATH's .symtab. Fails the
 * running cmocka test when PATH cannot be opened or has no such symbol. */
uint64_t spantap_test_symbol_addr(const char *path, const char *name);

#endif
