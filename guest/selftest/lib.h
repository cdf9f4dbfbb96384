/*
 * lib.h - the little of a C library the guest needs: the memory functions the compiler may
 * call on its own, and a printf with %s %c %u %x %lu %lx (plus '0' and width for hex).
 */
#ifndef SELFTEST_LIB_H
#define SELFTEST_LIB_H

#include <stdarg.h>
#include <stddef.h>

void *memset(void *d, int c, size_t n);
void *memcpy(void *restrict d, const void *restrict s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);

/* Formats into one buffer and writes it to COM1 in one go (lines up to 160 bytes). */
void printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vprintk(const char *fmt, va_list ap);

#endif
