/* Minimal assertion helpers shared by the C tests: print what failed and where, then exit 1. */
#ifndef QDSIM_CHECK_H
#define QDSIM_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qdsim_mem.h"

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);         \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

/* The call must succeed. */
#define CHECK_OK(call)                                                                       \
    do {                                                                                     \
        qdsim_status check_status_ = (call);                                                 \
        if (check_status_ != QDSIM_OK) {                                                     \
            fprintf(stderr, "%s:%d: %s returned %s: %s\n", __FILE__, __LINE__, #call,        \
                    qdsim_status_string(check_status_), qdsim_last_error_message());         \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

/* The call must fail with `expected`, and the message must contain `needle`. */
#define CHECK_FAILS(call, expected, needle)                                                  \
    do {                                                                                     \
        qdsim_status check_status_ = (call);                                                 \
        const char *check_msg_ = qdsim_last_error_message();                                 \
        if (check_status_ != (expected)) {                                                   \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s (message: %s)\n", __FILE__,  \
                    __LINE__, #call, qdsim_status_string(check_status_),                     \
                    qdsim_status_string(expected), check_msg_);                              \
            exit(1);                                                                         \
        }                                                                                    \
        if (strstr(check_msg_, (needle)) == NULL) {                                          \
            fprintf(stderr, "%s:%d: message of %s lacks \"%s\": %s\n", __FILE__, __LINE__,   \
                    #call, (needle), check_msg_);                                            \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

#endif
