/*
 * skip_reason.h - skip a cmocka case and say why.  cmocka's TAP line for a skipped case
 * names only the case; the reason goes on a line of its own just before it ("# skip
 * reason: ..."), which tests/lib/unit.sh joins to the SKIP line it prints.
 */
#ifndef MPVMM_TEST_SKIP_REASON_H
#define MPVMM_TEST_SKIP_REASON_H

#define skip_because(...)                                                                   \
	do {                                                                                \
		print_message("# skip reason: ");                                           \
		print_message(__VA_ARGS__);                                                 \
		print_message("\n");                                                        \
		skip();                                                                     \
	} while (0)

#endif
