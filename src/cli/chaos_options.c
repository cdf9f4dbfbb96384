/*
 * chaos_options.c - see chaos_options.h.
 */
#include "cli/chaos_options.h"

#include <stdio.h>
#include <string.h>

#include "boot/selftest.h"
#include "cli/config.h"
#include "mpvmm/selftest_abi.h"

/* The chaos guest's operation kinds, as --chaos-skip names them (selftest_abi.h). */
static const char *const chaos_kinds[CHAOS_OP_COUNT] = {
#define CHAOS_KIND_WORD(name, word) [CHAOS_OP_##name] = word,
	CHAOS_OPS(CHAOS_KIND_WORD)
#undef CHAOS_KIND_WORD
};

/* What the chaos guest takes from the command line; given to the loader once parsed. */
static struct selftest_chaos chaos;

static const char *chaos_kind_list(void)
{
	static char list[CHAOS_OP_COUNT * 16];
	size_t n = 0;

	for (unsigned k = 0; k < CHAOS_OP_COUNT; k++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", k ? "," : "",
				      chaos_kinds[k]);
	return list;
}

/* "pio,msr": the bits of those kinds; -1 with the word in err if one is unknown. */
static int parse_chaos_kinds(const char *opt, const char *arg, uint32_t *bits, char *err,
			     size_t errlen)
{
	*bits = 0;
	for (const char *p = arg; *p;) {
		size_t len = strcspn(p, ","), k;
		for (k = 0; k < CHAOS_OP_COUNT; k++)
			if (strlen(chaos_kinds[k]) == len && !strncmp(p, chaos_kinds[k], len))
				break;
		if (k == CHAOS_OP_COUNT) {
			snprintf(err, errlen, "%s: '%.*s' is not a kind (%s)", opt, (int)len, p,
				 chaos_kind_list());
			return -1;
		}
		*bits |= 1u << k;
		p += len + (p[len] == ',');
	}
	return 0;
}

int chaos_options_kinds(bool skip, const char *arg, char *err, size_t errlen)
{
	uint32_t bits;

	if (parse_chaos_kinds(skip ? "--chaos-skip" : "--chaos-only", arg, &bits, err,
			      errlen) < 0)
		return -1;
	chaos.skip |= skip ? bits : ~bits & ((1u << CHAOS_OP_COUNT) - 1);
	return 0;
}

int chaos_options_seconds(const char *arg, char *err, size_t errlen)
{
	uint64_t v;

	if (config_parse_uint(arg, 24u * 3600u, &v) < 0 || v == 0) {
		snprintf(err, errlen, "--chaos-seconds '%s' is not a number of seconds (1..86400)",
			 arg);
		return -1;
	}
	chaos.seconds = (uint32_t)v;
	return 0;
}

void chaos_options_reset(void)
{
	chaos = (struct selftest_chaos){ 0 };
}

void chaos_options_apply(bool seeded, uint64_t seed, uint16_t debug_exit_port)
{
	chaos.seeded = seeded;
	chaos.seed = seed;
	chaos.debug_exit_port = debug_exit_port;
	selftest_chaos_set(&chaos);
}

void chaos_options_usage(FILE *out)
{
	fprintf(out, "\nKinds of operation of the chaos guest (--chaos-skip, --chaos-only):\n ");
	for (unsigned k = 0, col = 1; k < CHAOS_OP_COUNT; k++) {
		size_t len = strlen(chaos_kinds[k]) + 1;
		if (col + len > 80) {
			fprintf(out, "\n ");
			col = 1;
		}
		fprintf(out, " %s", chaos_kinds[k]);
		col += (unsigned)len;
	}
	fprintf(out, "\n");
}

