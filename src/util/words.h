/*
 * words.h - a list of words for a message: "kernel, split or user".
 */
#ifndef MPVMM_UTIL_WORDS_H
#define MPVMM_UTIL_WORDS_H

#include <stddef.h>

/* The n words into out (len bytes), separated by ", " and the last by " or "; returns out. */
char *words_or(char *out, size_t len, const char *const *words, size_t n);

#endif
