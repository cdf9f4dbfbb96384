/*
 * rng.h - the chaos guest's pseudo-random numbers: SplitMix64 (Steele, Lea, Flood, "Fast
 * splittable pseudorandom number generators", OOPSLA 2014), one 64-bit state per vCPU, so
 * that each vCPU's stream of operations follows from the seed and its index alone.
 */
#ifndef CHAOS_RNG_H
#define CHAOS_RNG_H

#include <stdint.h>

static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* 0..n-1 (n > 0); the modulo bias is irrelevant here. */
static inline uint32_t rng_below(uint64_t *s, uint32_t n)
{
	return (uint32_t)(rng_next(s) % n);
}

/* True with probability 1/n. */
static inline int rng_one_in(uint64_t *s, uint32_t n)
{
	return rng_below(s, n) == 0;
}

/* The first state of vCPU `index`'s stream. */
static inline uint64_t rng_stream(uint64_t seed, uint32_t index)
{
	uint64_t s = seed ^ (0xd1b54a32d192ed03ull * (index + 1ull));

	return rng_next(&s);
}

#endif
