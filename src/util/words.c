/*
 * words.c - see words.h.
 */
#include "util/words.h"

#include <stdio.h>

char *words_or(char *out, size_t len, const char *const *words, size_t n)
{
	size_t at = 0;

	if (len)
		out[0] = '\0';
	for (size_t i = 0; i < n && at < len; i++) {
		int w = snprintf(out + at, len - at, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ",
				 words[i]);
		if (w < 0)
			break;
		at += (size_t)w;
	}
	return out;
}
