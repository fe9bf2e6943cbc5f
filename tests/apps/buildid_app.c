/* Test application built twice with different build ids (buildid_app_a and
 * buildid_app_b): the same code, so a stream recorded with one and imported
 * where the other sits at the same path shows a build id mismatch, and the
 * debug file of one symbolizes the other's addresses. Known call chain:
 * main -> buildid_caller -> buildid_leaf -> write(). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

__attribute__((noinline)) int buildid_leaf(const char *msg) {
  return (int)write(1, msg, strlen(msg));
}

__attribute__((noinline)) int buildid_caller(const char *msg) {
  return buildid_leaf(msg) + 1;
}

int main(int argc, char **argv) {
  return buildid_caller(argc > 1 ? argv[1] : "buildid_app\n") > 0 ? 0 : 1;
}
