/*
 * test_warn.c - the guest-mistake lines (vm/warn.c), counted on stderr: a flood from one
 * source prints at most its burst a second, its summaries included; another source's line
 * still comes through; a repeated line is one line and a count; what was held back is said
 * once, naming the source.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vm/warn.h"

/* Run fn with stderr into a temporary file; the lines it wrote, as one string. */
static char *captured(void (*fn)(struct warn_limiter *w), unsigned *lines)
{
	char path[] = "/tmp/mpvmm-warn-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	struct warn_limiter w;
	static char text[1 << 20];

	assert_true(fd >= 0 && saved >= 0);
	dup2(fd, STDERR_FILENO);
	warn_init(&w);
	fn(&w);
	warn_flush(&w);
	warn_destroy(&w);
	dup2(saved, STDERR_FILENO);
	close(saved);
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
	close(fd);
	unlink(path);
	text[n > 0 ? n : 0] = '\0';
	*lines = 0;
	for (char *p = text; (p = strchr(p, '\n')); p++)
		(*lines)++;
	return text;
}

static void flood_and_one_more(struct warn_limiter *w)
{
	struct warn_source *a = warn_source(w, "I/O APIC"), *b = warn_source(w, "MP state");
	char msg[64];

	for (int i = 0; i < 10000; i++) {
		snprintf(msg, sizeof(msg), "register %d does not exist", i);
		warn_guest(a, msg);
	}
	warn_guest(b, "cpu 1: SIPI ignored");
}

static void test_one_source_cannot_hide_another(void **state)
{
	unsigned lines;
	const char *text = captured(flood_and_one_more, &lines);

	(void)state;
	/* 50 lines of the flood, 1 summary of what it held back, the other source's line. */
	assert_true(lines <= 52);
	assert_non_null(strstr(text, "cpu 1: SIPI ignored"));
	assert_non_null(strstr(text, "9950 more warnings about the guest (I/O APIC)"));
}

/* Two lines in turn: no repeats to fold, so the budget alone bounds them, summaries too. */
static void alternate(struct warn_limiter *w)
{
	struct warn_source *a = warn_source(w, "local APICs");

	for (int i = 0; i < 10000; i++) {
		warn_guest(a, "one");
		warn_guest(a, "one");
		warn_guest(a, "two");
	}
}

static void test_summaries_count_against_the_burst(void **state)
{
	unsigned lines;
	const char *text = captured(alternate, &lines);

	(void)state;
	assert_true(lines <= 51);
	assert_non_null(strstr(text, "the warning above came 1 more times"));
	assert_non_null(strstr(text, "more warnings about the guest (local APICs)"));
}

static void storm(struct warn_limiter *w)
{
	struct warn_source *a = warn_source(w, "MP state");

	for (int i = 0; i < 26; i++)
		warn_guest(a, "cpu 1: SIPI ignored");
}

static void test_a_storm_is_one_line_and_a_count(void **state)
{
	unsigned lines;
	const char *text = captured(storm, &lines);

	(void)state;
	assert_int_equal(lines, 2);
	assert_non_null(strstr(text, "the warning above came 25 more times"));
}

/* Every source at once (a guest making mistakes through every device): 100 lines a
 * second between them, and one summary each. */
static void everyone(struct warn_limiter *w)
{
	static const char *const names[] = { "a", "b", "c", "d", "e", "f", "g", "h" };
	struct warn_source *src[8];
	char msg[64];

	for (int i = 0; i < 8; i++)
		src[i] = warn_source(w, names[i]);
	for (int i = 0; i < 8000; i++) {
		snprintf(msg, sizeof(msg), "mistake %d", i);
		warn_guest(src[i % 8], msg);
	}
}

static void test_all_sources_share_a_burst(void **state)
{
	unsigned lines;

	(void)state;
	captured(everyone, &lines);
	assert_true(lines <= 100 + 8);
	assert_true(lines >= 100);
}

/* A line held back is not "the warning above": its repeats are counted with what was held
 * back, and the next summary of repeats follows the line it counts. */
static void held_back_then_repeated(struct warn_limiter *w)
{
	struct warn_source *a = warn_source(w, "I/O APIC");
	char msg[64];

	for (int i = 0; i < 60; i++) {
		snprintf(msg, sizeof(msg), "register %d does not exist", i);
		warn_guest(a, msg);
	}
	for (int i = 0; i < 30; i++)
		warn_guest(a, "register 59 does not exist"); /* the 60th, not shown */
}

static void test_repeats_of_a_line_not_shown(void **state)
{
	unsigned lines;
	const char *text = captured(held_back_then_repeated, &lines);

	(void)state;
	assert_null(strstr(text, "came 30 more times"));
	assert_null(strstr(text, "came 29 more times"));
	assert_non_null(strstr(text, "40 more warnings about the guest (I/O APIC)"));
	assert_true(lines <= 51);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_source_cannot_hide_another),
		cmocka_unit_test(test_summaries_count_against_the_burst),
		cmocka_unit_test(test_a_storm_is_one_line_and_a_count),
		cmocka_unit_test(test_all_sources_share_a_burst),
		cmocka_unit_test(test_repeats_of_a_line_not_shown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
