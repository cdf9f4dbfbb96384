/*
 * topology.c - parse "--cpus N[,sockets=S][,cores=C][,threads=T]" and pack APIC IDs.
 *
 * Pure arithmetic on struct topology: knows nothing of KVM (the VMM checks KVM's vCPU limit),
 * of guest memory or of any firmware table.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "x86/topology.h"

/* No machine anyone boots has a million vCPUs; the bound keeps every product in 64 bits and
 * every packed APIC ID in 32. */
#define TOPOLOGY_COUNT_LIMIT (1u << 20)

enum topo_key { KEY_SOCKETS, KEY_CORES, KEY_THREADS, KEY_COUNT };

static const char *const topo_key_names[KEY_COUNT] = { "sockets", "cores", "threads" };

/* Read a decimal count at *s and advance past it; what follows is the caller's business. */
static int parse_count(const char *spec, const char **s, const char *what, uint32_t *out,
		       char *err, size_t errlen)
{
	const char *p = *s;
	uint64_t v = 0;

	if (*p < '0' || *p > '9') {
		snprintf(err, errlen, "--cpus %s: %s must be a number, not \"%.16s\"", spec, what,
			 p);
		return -1;
	}
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > TOPOLOGY_COUNT_LIMIT) {
			snprintf(err, errlen, "--cpus %s: %s is too large (at most %u)", spec,
				 what, TOPOLOGY_COUNT_LIMIT);
			return -1;
		}
	}
	if (v == 0) {
		snprintf(err, errlen, "--cpus %s: %s must be at least 1", spec, what);
		return -1;
	}
	*out = (uint32_t)v;
	*s = p;
	return 0;
}

static int lookup_key(const char *key, size_t len)
{
	for (int k = 0; k < KEY_COUNT; k++)
		if (strlen(topo_key_names[k]) == len && memcmp(key, topo_key_names[k], len) == 0)
			return k;
	return -1;
}

/* Parse ",key=value" pairs after N into vals[], marking which were given. */
static int parse_keys(const char *spec, const char *s, uint32_t vals[KEY_COUNT],
		      bool given[KEY_COUNT], char *err, size_t errlen)
{
	while (*s) {
		if (*s != ',') {
			snprintf(err, errlen, "--cpus %s: unexpected \"%.16s\"", spec, s);
			return -1;
		}
		const char *key = s + 1;
		const char *eq = strchr(key, '=');
		const char *comma = strchr(key, ',');

		if (!eq || (comma && comma < eq)) {
			snprintf(err, errlen, "--cpus %s: expected key=value, not \"%.*s\"", spec,
				 (int)(comma ? (size_t)(comma - key) : strlen(key)), key);
			return -1;
		}
		int k = lookup_key(key, (size_t)(eq - key));

		if (k < 0) {
			snprintf(err, errlen,
				 "--cpus %s: unknown key \"%.*s\" (sockets, cores, threads)", spec,
				 (int)(eq - key), key);
			return -1;
		}
		if (given[k]) {
			snprintf(err, errlen, "--cpus %s: %s given twice", spec, topo_key_names[k]);
			return -1;
		}
		s = eq + 1;
		if (parse_count(spec, &s, topo_key_names[k], &vals[k], err, errlen))
			return -1;
		given[k] = true;
	}
	return 0;
}

/* *out = n / d, refusing a remainder: a shape that does not tile N is a user error. */
static int divide_exactly(const char *spec, uint32_t n, uint64_t d, const char *derived,
			  const char *divisor, uint32_t *out, char *err, size_t errlen)
{
	if (n % d) {
		snprintf(err, errlen, "--cpus %s: %u vCPUs cannot be split evenly by %s = %llu"
			 " to derive %s", spec, n, divisor, (unsigned long long)d, derived);
		return -1;
	}
	*out = (uint32_t)(n / d);
	return 0;
}

/* Fill the counts the user left out, as QEMU's -smp does for x86 (threads, then cores). */
static int derive_missing(const char *spec, struct topology *t, const bool given[KEY_COUNT],
			  char *err, size_t errlen)
{
	if (!given[KEY_THREADS])
		t->threads = 1;
	if (!given[KEY_CORES] && !given[KEY_SOCKETS]) {
		t->cores = 1;
		return divide_exactly(spec, t->cpus, t->threads, "sockets", "threads",
				      &t->sockets, err, errlen);
	}
	if (!given[KEY_CORES])
		return divide_exactly(spec, t->cpus, (uint64_t)t->sockets * t->threads, "cores",
				      "sockets*threads", &t->cores, err, errlen);
	if (!given[KEY_SOCKETS])
		return divide_exactly(spec, t->cpus, (uint64_t)t->cores * t->threads, "sockets",
				      "cores*threads", &t->sockets, err, errlen);
	return 0;
}

int topology_parse(const char *spec, struct topology *out, char *err, size_t errlen)
{
	uint32_t vals[KEY_COUNT] = { 0 };
	bool given[KEY_COUNT] = { false };
	struct topology t = { 0 };
	const char *s = spec;

	if (parse_count(spec, &s, "the number of vCPUs", &t.cpus, err, errlen) ||
	    parse_keys(spec, s, vals, given, err, errlen))
		return -1;
	t.sockets = vals[KEY_SOCKETS];
	t.cores = vals[KEY_CORES];
	t.threads = vals[KEY_THREADS];
	if (derive_missing(spec, &t, given, err, errlen))
		return -1;

	uint64_t product = (uint64_t)t.sockets * t.cores * t.threads;

	if (product != t.cpus) {
		snprintf(err, errlen, "--cpus %s: sockets*cores*threads = %llu, not %u", spec,
			 (unsigned long long)product, t.cpus);
		return -1;
	}
	*out = t;
	return 0;
}

bool topology_consistent(const struct topology *t)
{
	return t->cpus && t->sockets && t->cores && t->threads &&
	       (uint64_t)t->sockets * t->cores * t->threads == t->cpus;
}

/* Smallest b with 2^b >= n: the width of an APIC ID field holding n values (SDM Vol. 3A 8.9). */
static unsigned field_bits(uint32_t n)
{
	unsigned b = 0;

	while (b < 32 && (1ull << b) < n)
		b++;
	return b;
}

unsigned topology_thread_bits(const struct topology *t)
{
	return field_bits(t->threads);
}

unsigned topology_core_bits(const struct topology *t)
{
	return field_bits(t->cores);
}

uint32_t topology_apic_id(const struct topology *t, uint32_t index)
{
	unsigned tb = topology_thread_bits(t), cb = topology_core_bits(t);
	uint32_t thread = index % t->threads;
	uint32_t core = (index / t->threads) % t->cores;
	uint32_t socket = index / (t->threads * t->cores);

	return socket << (cb + tb) | core << tb | thread;
}

/* IDs grow with the index (socket, core, thread are its digits, most significant first). */
uint32_t topology_max_apic_id(const struct topology *t)
{
	return t->cpus ? topology_apic_id(t, t->cpus - 1) : 0;
}
