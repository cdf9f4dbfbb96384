/*
 * test_config.c - command-line parsing of `mpvmm run`: sizes, options, and the one-line
 * errors for bad input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli/config.h"

static void test_sizes(void **state)
{
	static const struct { const char *s; uint64_t v; } ok[] = {
		{ "256M", 256ull << 20 }, { "1G", 1ull << 30 }, { "512", 512ull << 20 },
		{ "4k", 4096 }, { "2GB", 2ull << 30 }, { "1T", 1ull << 40 }, { "100b", 100 },
		{ "64m", 64ull << 20 },
	};
	static const char *const bad[] = { "", "abc", "12Q", "1MM", "-1", "M", "1 G",
					   "99999999999999999999G", "17179869184G" };
	char err[200];
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(config_parse_size(ok[i].s, &v, err, sizeof(err)), 0);
		assert_int_equal(v, ok[i].v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(config_parse_size(bad[i], &v, err, sizeof(err)), -1);
		assert_true(strlen(err) > 0);
		assert_null(strchr(err, '\n'));
	}
}

static enum config_result parse(struct vm_config *cfg, char *err, size_t errlen, ...)
{
	char *argv[16];
	int argc = 0;
	va_list ap;

	va_start(ap, errlen);
	for (const char *a; (a = va_arg(ap, const char *)) && argc < 15;)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	config_defaults(cfg);
	return config_parse_run(argc, argv, cfg, err, errlen);
}

static void test_defaults(void **state)
{
	struct vm_config cfg;
	char err[256];

	(void)state;
	assert_int_equal(parse(&cfg, err, sizeof(err), NULL), CONFIG_OK);
	assert_int_equal(cfg.topo.cpus, 4);
	assert_int_equal(cfg.boot_cpu, 0);
	assert_int_equal(cfg.mem_size, 256ull << 20);
	assert_false(cfg.selftest_step);
	assert_false(cfg.selftest_ipi_pingpong);
	assert_int_equal(cfg.debug_exit_port, 0xf4);
	/* The sandbox is on by default (off where a sanitizer's runtime would break its lists). */
	assert_int_equal(cfg.seccomp, CONFIG_DEFAULT_SECCOMP);
#ifndef MPVMM_SANITIZED
	assert_int_equal(cfg.seccomp, SANDBOX_KILL);
#endif
	assert_null(cfg.jail_dir);
}

static void test_options(void **state)
{
	struct vm_config cfg;
	char err[256];

	(void)state;
	assert_int_equal(parse(&cfg, err, sizeof(err), "--cpus", "8,sockets=2,cores=2,threads=2",
			       "--boot-cpu", "7", "-m", "1G", "--selftest-step", "--x2apic",
			       "--debug-exit", "0x501", "--ap-timeout", "250",
			       "--selftest-ipi-pingpong", NULL), CONFIG_OK);
	assert_int_equal(cfg.topo.cpus, 8);
	assert_int_equal(cfg.topo.sockets, 2);
	assert_int_equal(cfg.topo.cores, 2);
	assert_int_equal(cfg.topo.threads, 2);
	assert_int_equal(cfg.boot_cpu, 7);
	assert_int_equal(cfg.mem_size, 1ull << 30);
	assert_true(cfg.selftest_step);
	assert_true(cfg.x2apic);
	assert_true(cfg.selftest_ipi_pingpong);
	assert_int_equal(cfg.debug_exit_port, 0x501);
	assert_int_equal(cfg.ap_timeout_ms, 250);
	assert_int_equal(parse(&cfg, err, sizeof(err), "--seccomp", "log", "--jail", "/srv/j",
			       "--uid", "65534", "--gid", "1000", NULL), CONFIG_OK);
	assert_int_equal(cfg.seccomp, SANDBOX_LOG);
	assert_string_equal(cfg.jail_dir, "/srv/j");
	assert_int_equal(cfg.uid, 65534);
	assert_int_equal(cfg.gid, 1000);
	assert_int_equal(parse(&cfg, err, sizeof(err), "--seccomp", "off", NULL), CONFIG_OK);
	assert_int_equal(cfg.seccomp, SANDBOX_OFF);
	assert_int_equal(parse(&cfg, err, sizeof(err), "--gdb", "tcp:1234", "--paused", NULL),
			 CONFIG_OK);
	assert_string_equal(cfg.gdb, "tcp:1234");
	assert_true(cfg.paused);
	assert_int_equal(parse(&cfg, err, sizeof(err), "--gdb", "unix:/tmp/g.sock", NULL),
			 CONFIG_OK);
	assert_string_equal(cfg.gdb, "unix:/tmp/g.sock");
	assert_false(cfg.paused);
	/* The parser can run again (getopt state is reset). */
	assert_int_equal(parse(&cfg, err, sizeof(err), "--cpus=2", NULL), CONFIG_OK);
	assert_int_equal(cfg.topo.cpus, 2);
}

static void expect_error(const char *want, ...)
{
	struct vm_config cfg;
	char err[256] = "";
	char *argv[12];
	int argc = 0;
	va_list ap;

	va_start(ap, want);
	for (const char *a; (a = va_arg(ap, const char *)) && argc < 11;)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	config_defaults(&cfg);
	assert_int_equal(config_parse_run(argc, argv, &cfg, err, sizeof(err)), CONFIG_ERROR);
	if (!strstr(err, want))
		fail_msg("error '%s' does not mention '%s'", err, want);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("--cpus 0", "--cpus", "0", NULL);
	expect_error("at most 4096", "--cpus", "5000", NULL);
	expect_error("out of range", "--cpus", "4", "--boot-cpu", "4", NULL);
	expect_error("out of range", "--boot-cpu", "9", NULL);
	expect_error("--memory", "--memory", "3M", NULL);
	expect_error("--memory", "--memory", "12Q", NULL);
	expect_error("unknown option '--nope'", "--nope", NULL);
	expect_error("needs a value", "--memory", NULL);
	expect_error("unexpected argument 'x'", "x", NULL);
	expect_error("--debug-exit", "--debug-exit", "0x10000", NULL);
	expect_error("--ap-timeout", "--ap-timeout", "0", NULL);
	expect_error("--seccomp 'trap': use kill, log or off", "--seccomp", "trap", NULL);
	expect_error("--jail needs --uid and --gid", "--jail", "/srv/j", "--uid", "1", NULL);
	expect_error("--uid needs --jail", "--uid", "1", NULL);
	expect_error("--gid needs --jail", "--gid", "1", NULL);
	expect_error("--uid '0'", "--jail", "/j", "--uid", "0", "--gid", "1", NULL);
	expect_error("--gid 'x'", "--gid", "x", NULL);
	expect_error("--chaos-seconds", "--chaos-seconds", "0", NULL);
	expect_error("--chaos-seconds", "--chaos-seconds", "ten", NULL);
	expect_error("'foo' is not a kind", "--chaos-skip", "pio,foo", NULL);
	expect_error("--chaos-only: '' is not a kind", "--chaos-only", ",pio", NULL);
	expect_error("--gdb 'udp:1': use tcp:[HOST:]PORT or unix:PATH", "--gdb", "udp:1", NULL);
	expect_error("'65536' is not a port", "--gdb", "tcp:65536", NULL);
	expect_error("'1.2.3' is not an IPv4 address", "--gdb", "tcp:1.2.3:99", NULL);
	expect_error("PATH must have 1 to 107", "--gdb", "unix:", NULL);
	expect_error("--gdb cannot be used with --jail", "--gdb", "tcp:1", "--jail", "/j",
		     "--uid", "1", "--gid", "1", NULL);
}

static enum config_result parse_restore(struct config_restore *r, char *err, size_t errlen,
					 ...)
{
	char *argv[16];
	int argc = 0;
	va_list ap;

	va_start(ap, errlen);
	for (const char *a; (a = va_arg(ap, const char *)) && argc < 15;)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	return config_parse_restore(argc, argv, r, err, errlen);
}

/* restore takes the sandbox's options as run does. */
static void test_restore_sandbox(void **state)
{
	struct config_restore r;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse_restore(&r, err, sizeof(err), "snap", "--seccomp", "off", "--jail",
				       "/j", "--uid", "7", "--gid", "8", NULL), CONFIG_OK);
	assert_string_equal(r.snapshot, "snap");
	assert_int_equal(r.local.seccomp, SANDBOX_OFF);
	assert_string_equal(r.local.jail_dir, "/j");
	assert_int_equal(r.local.uid, 7);
	assert_int_equal(r.local.gid, 8);
	assert_int_equal(parse_restore(&r, err, sizeof(err), "snap", "--jail", "/j", NULL),
			 CONFIG_ERROR);
	assert_non_null(strstr(err, "--jail needs --uid and --gid"));
	assert_int_equal(parse_restore(&r, err, sizeof(err), "snap", "--seccomp", "x", NULL),
			 CONFIG_ERROR);
	assert_non_null(strstr(err, "--seccomp 'x'"));
}

/* The chaos guest's options parse (what they become is the guest's boot information). */
static void test_chaos_options(void **state)
{
	struct vm_config cfg;
	char err[256];

	(void)state;
	assert_int_equal(parse(&cfg, err, sizeof(err), "--guest", "chaos", "--chaos-seconds", "3",
			       "--chaos-skip", "msr,init", "--chaos-only", "pio,hlt,msr",
			       "--seed", "7", NULL), CONFIG_OK);
	assert_string_equal(cfg.guest, "chaos");
	assert_true(cfg.seeded);
}

static void test_help_and_version(void **state)
{
	struct vm_config cfg;
	char err[64];

	(void)state;
	assert_int_equal(parse(&cfg, err, sizeof(err), "--help", NULL), CONFIG_HELP);
	assert_int_equal(parse(&cfg, err, sizeof(err), "-h", NULL), CONFIG_HELP);
	assert_int_equal(parse(&cfg, err, sizeof(err), "--version", NULL), CONFIG_VERSION);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_chaos_options),
		cmocka_unit_test(test_help_and_version),
		cmocka_unit_test(test_restore_sandbox),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
