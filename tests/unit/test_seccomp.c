/*
 * test_seccomp.c - the per-thread system call lists (util/seccomp.c), each tried in a child
 * process: every kind's list installs, a call outside a list kills the process with SIGSYS
 * (or is allowed under --seccomp log), the arguments checked are checked, and a thread's
 * list holds on top of the main thread's.
 *
 * Skipped in sanitized builds: a sanitizer's runtime makes calls no list names.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "skip_reason.h"
#include "util/seccomp.h"

/* The outcomes of a child: it exited with a status, or a signal ended it. */
#define EXITED(n) (n)
#define KILLED_BY(sig) (1000 + (sig))

static void *nothing(void *arg)
{
	return arg;
}

/* Run fn in a child after installing `kinds` (in order) with `action`: how it ended.  The
 * child has started a thread before, as mpvmm has when a thread installs its list: glibc
 * installs its set-ID signal's handler at the first pthread_create, on the main thread. */
static int in_child(enum sandbox_action action, const enum sandbox_thread_kind *kinds,
		    size_t n, int (*fn)(void))
{
	char err[256];
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		/* A process killed by SIGSYS dumps core: not here. */
		setrlimit(RLIMIT_CORE, &(struct rlimit){ 0, 0 });
		pthread_t t;
		if (pthread_create(&t, NULL, nothing, NULL) != 0 || pthread_join(t, NULL) != 0)
			_exit(101);
		sandbox_configure(action);
		for (size_t i = 0; i < n; i++)
			if (sandbox_install(kinds[i], err, sizeof(err)) < 0)
				_exit(100);
		_exit(fn());
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFSIGNALED(st) ? KILLED_BY(WTERMSIG(st)) : EXITED(WEXITSTATUS(st));
}

#define ONE(kind) (const enum sandbox_thread_kind[]){ kind }, 1

static int open_a_file(void)
{
	int fd = open("/dev/null", O_RDONLY);

	return fd >= 0 && close(fd) == 0 ? 0 : 1;
}

static int map_executable(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? 1 : 0;
}

static int map_and_free(void)
{
	void *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *q = malloc(1 << 20); /* a large block: its own mapping */

	if (p == MAP_FAILED || !q)
		return 1;
	free(q);
	return munmap(p, 1 << 20) == 0 ? 0 : 1;
}

static int signal_the_parent(void)
{
	return syscall(SYS_tgkill, getppid(), getppid(), 0) == 0 ? 0 : 1;
}

static int signal_myself(void)
{
	return syscall(SYS_tgkill, getpid(), gettid(), 0) == 0 ? 0 : 1;
}

static int start_a_thread(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, nothing, NULL) != 0)
		return 1;
	return pthread_join(t, NULL) == 0 ? 0 : 1;
}

/* clone3's flags are out of seccomp's sight: it fails, glibc falls back to clone. */
static int clone3_fails(void)
{
	return syscall(SYS_clone3, NULL, 0) < 0 && errno == ENOSYS ? 0 : 1;
}

static int wait_for_nothing(void)
{
	return 0;
}

static void skip_if_sanitized(void)
{
#ifdef MPVMM_SANITIZED
	skip_because("sanitized build: the sanitizer's runtime makes calls no list names");
#endif
}

static void test_every_list_installs(void **state)
{
	(void)state;
	skip_if_sanitized();
	for (int k = 0; k < SANDBOX_KINDS; k++)
		assert_int_equal(in_child(SANDBOX_KILL, ONE((enum sandbox_thread_kind)k),
					  wait_for_nothing), EXITED(0));
}

static void test_off_installs_nothing(void **state)
{
	(void)state;
	skip_if_sanitized();
	assert_int_equal(in_child(SANDBOX_OFF, ONE(SANDBOX_VCPU), open_a_file), EXITED(0));
}

static void test_outside_the_list_kills(void **state)
{
	(void)state;
	skip_if_sanitized();
	/* vCPU threads open no file; the main thread does (trace files at exit). */
	assert_int_equal(in_child(SANDBOX_KILL, ONE(SANDBOX_VCPU), open_a_file),
			 KILLED_BY(SIGSYS));
	assert_int_equal(in_child(SANDBOX_KILL, ONE(SANDBOX_TIMER), open_a_file),
			 KILLED_BY(SIGSYS));
	assert_int_equal(in_child(SANDBOX_KILL, ONE(SANDBOX_MAIN), open_a_file), EXITED(0));
	/* The API thread writes snapshots. */
	assert_int_equal(in_child(SANDBOX_KILL, ONE(SANDBOX_API), open_a_file), EXITED(0));
}

static void test_log_only_logs(void **state)
{
	(void)state;
	skip_if_sanitized();
	assert_int_equal(in_child(SANDBOX_LOG, ONE(SANDBOX_VCPU), open_a_file), EXITED(0));
}

static void test_arguments_are_checked(void **state)
{
	(void)state;
	skip_if_sanitized();
	/* Memory, but never executable, outside the main thread. */
	assert_int_equal(in_child(SANDBOX_KILL, ONE(SANDBOX_VCPU), map_and_free), EXITED(0));
	assert_int_equal(in_child(SANDBOX_KILL, ONE(SANDBOX_VCPU), map_executable),
			 KILLED_BY(SIGSYS));
	assert_int_equal(in_child(SANDBOX_KILL, ONE(SANDBOX_MAIN), map_executable), EXITED(0));
	/* Signals to this process's threads only. */
	assert_int_equal(in_child(SANDBOX_KILL, ONE(SANDBOX_VCPU), signal_myself), EXITED(0));
	assert_int_equal(in_child(SANDBOX_KILL, ONE(SANDBOX_VCPU), signal_the_parent),
			 KILLED_BY(SIGSYS));
	/* Threads: started by the main and API threads only, and as threads (clone). */
	assert_int_equal(in_child(SANDBOX_KILL, ONE(SANDBOX_API), clone3_fails), EXITED(0));
	assert_int_equal(in_child(SANDBOX_KILL, ONE(SANDBOX_API), start_a_thread), EXITED(0));
	assert_int_equal(in_child(SANDBOX_KILL, ONE(SANDBOX_MAIN), start_a_thread), EXITED(0));
	assert_int_equal(in_child(SANDBOX_KILL, ONE(SANDBOX_VCPU), start_a_thread),
			 KILLED_BY(SIGSYS));
}

/* A thread starts under the main thread's list and adds its own: the stricter one holds. */
static void test_lists_stack(void **state)
{
	static const enum sandbox_thread_kind main_then_vcpu[] = { SANDBOX_MAIN, SANDBOX_VCPU };

	(void)state;
	skip_if_sanitized();
	assert_int_equal(in_child(SANDBOX_KILL, main_then_vcpu, 2, map_and_free), EXITED(0));
	assert_int_equal(in_child(SANDBOX_KILL, main_then_vcpu, 2, open_a_file),
			 KILLED_BY(SIGSYS));
}

static void test_action_names(void **state)
{
	enum sandbox_action a;

	(void)state;
	for (int i = SANDBOX_OFF; i <= SANDBOX_LOG; i++) {
		assert_true(sandbox_action_parse(sandbox_action_name((enum sandbox_action)i), &a));
		assert_int_equal(a, i);
	}
	assert_false(sandbox_action_parse("trap", &a));
	assert_false(sandbox_action_parse(NULL, &a));
	assert_int_equal(sandbox_configured(), SANDBOX_OFF); /* until a process says so */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_list_installs),
		cmocka_unit_test(test_off_installs_nothing),
		cmocka_unit_test(test_outside_the_list_kills),
		cmocka_unit_test(test_log_only_logs),
		cmocka_unit_test(test_arguments_are_checked),
		cmocka_unit_test(test_lists_stack),
		cmocka_unit_test(test_action_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
