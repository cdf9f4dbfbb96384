/*
 * lib.c - memory functions and printk.  memset/memcpy use REP STOSB/MOVSB: one instruction
 * to emulate instead of a loop, and a loop here could be turned back into a call to memset
 * by the compiler.
 */
#include "lib.h"

#include <stdint.h>

#include "serial.h"

void *memset(void *d, int c, size_t n)
{
	void *p = d;
	__asm__ volatile("rep stosb" : "+D"(p), "+c"(n) : "a"(c) : "memory");
	return d;
}

void *memcpy(void *restrict d, const void *restrict s, size_t n)
{
	void *p = d;
	__asm__ volatile("rep movsb" : "+D"(p), "+S"(s), "+c"(n) : : "memory");
	return d;
}

void *memmove(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;

	if (dp <= sp || dp >= sp + n)
		return memcpy(d, s, n);
	while (n--)
		dp[n] = sp[n];
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

struct buf {
	char s[160];
	size_t n;
};

static void put(struct buf *b, char c)
{
	if (b->n < sizeof(b->s))
		b->s[b->n++] = c;
}

static void put_num(struct buf *b, uint64_t v, unsigned base, unsigned width, char pad)
{
	char tmp[20];
	unsigned n = 0;

	do {
		unsigned d = (unsigned)(v % base);
		tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	while (width > n) {
		put(b, pad);
		width--;
	}
	while (n)
		put(b, tmp[--n]);
}

void vprintk(const char *fmt, va_list ap)
{
	struct buf b;

	b.n = 0; /* no initialiser: it would zero all 160 bytes on every call */

	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			put(&b, *p);
			continue;
		}
		p++;
		char pad = ' ';
		unsigned width = 0;
		if (*p == '0') {
			pad = '0';
			p++;
		}
		while (*p >= '0' && *p <= '9')
			width = width * 10 + (unsigned)(*p++ - '0');
		int is_long = 0;
		if (*p == 'l') {
			is_long = 1;
			p++;
		}
		switch (*p) {
		case 's':
			for (const char *s = va_arg(ap, const char *); *s; s++)
				put(&b, *s);
			break;
		case 'c':
			put(&b, (char)va_arg(ap, int));
			break;
		case 'u':
		case 'x': {
			uint64_t v = is_long ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int);
			put_num(&b, v, *p == 'u' ? 10 : 16, width, pad);
			break;
		}
		case '%':
			put(&b, '%');
			break;
		default: /* unknown conversion: show it rather than guess its argument */
			put(&b, '%');
			if (*p)
				put(&b, *p);
			else
				p--;
			break;
		}
	}
	serial_write(b.s, b.n);
}

void printk(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintk(fmt, ap);
	va_end(ap);
}
