/* A tiny test harness for the C tests: CHECK counts, DONE prints "N passed, N failed". */
#ifndef DASHNET_TEST_HARNESS_H
#define DASHNET_TEST_HARNESS_H

#include <stdio.h>
#include <stdatomic.h>

static atomic_int t_passed;
static atomic_int t_failed;

#define CHECK(cond, ...)                                                        \
  do {                                                                          \
    if (cond) {                                                                 \
      atomic_fetch_add(&t_passed, 1);                                           \
    } else {                                                                    \
      atomic_fetch_add(&t_failed, 1);                                           \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);          \
      fprintf(stderr, __VA_ARGS__);                                             \
      fprintf(stderr, " (last error: %s)\n", dashnet_last_error());            \
    }                                                                           \
  } while (0)

#define DONE()                                                                  \
  do {                                                                          \
    printf("%d passed, %d failed\n", atomic_load(&t_passed), atomic_load(&t_failed)); \
    return atomic_load(&t_failed) == 0 ? 0 : 1;                                 \
  } while (0)

#endif
