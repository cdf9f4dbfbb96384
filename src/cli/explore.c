/*
 * explore.c - see explore.h.  Each seed runs in a child process (this same binary, `run
 * --accel soft --seed S --quiet` plus the user's options), so a seed that crashes or hangs
 * the guest cannot take the exploration down with it; a child that outlives the time limit
 * is killed and counted as failed.  Knows nothing of VMs: it only runs commands.
 */
#include "cli/explore.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fcntl.h>

#include "cli/config.h"
#include "util/log.h"

static int open_null(void)
{
	return open("/dev/null", O_WRONLY | O_CLOEXEC);
}

#define EXPLORE_DEFAULT_SEEDS 100u
#define EXPLORE_TIMEOUT_S 120

static void usage(void)
{
	fprintf(stderr, "usage: mpvmm explore [--seeds K] [run options]\n"
		"Runs the guest on the software CPU with seeds 1..K (default %u) and lists every "
		"seed that fails,\nwith the command that replays it.\n", EXPLORE_DEFAULT_SEEDS);
}

/* Wait for pid at most EXPLORE_TIMEOUT_S seconds; kill it past that.  Its wait status. */
static int wait_bounded(pid_t pid, bool *timed_out)
{
	struct timespec step = { 0, 10 * 1000 * 1000 };
	int status = 0;

	*timed_out = false;
	for (long ticks = 0;; ticks++) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		if (ticks > EXPLORE_TIMEOUT_S * 100L && !*timed_out) {
			kill(pid, SIGKILL);
			*timed_out = true;
		}
		nanosleep(&step, NULL);
	}
}

/* Run one seed; returns its exit status (128 + signal if killed, -1 if it could not run). */
static int run_seed(char **child_argv, unsigned long seed, char *seed_buf, size_t len,
		    bool *timed_out)
{
	snprintf(seed_buf, len, "%lu", seed);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open_null();
		if (null >= 0) {
			dup2(null, STDOUT_FILENO); /* dup2 clears close-on-exec on the copies */
			dup2(null, STDERR_FILENO);
		}
		execv("/proc/self/exe", child_argv);
		_exit(127);
	}
	int st = wait_bounded(pid, timed_out);
	if (st < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void print_replay(unsigned long seed, int argc, char **argv)
{
	printf("  mpvmm run --accel soft --seed %lu", seed);
	for (int i = 0; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n");
}

int explore_main(int argc, char **argv)
{
	uint64_t seeds = EXPLORE_DEFAULT_SEEDS;

	if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
		usage();
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[0], "--seeds")) {
		if (config_parse_uint(argv[1], 1000000, &seeds) < 0 || seeds == 0) {
			log_error("--seeds '%s' is not a number of seeds (1..1000000)", argv[1]);
			return 2;
		}
		argc -= 2;
		argv += 2;
	}
	/* mpvmm run --accel soft --quiet --seed S <user options> */
	char seed_buf[24];
	char **child = calloc((size_t)argc + 8, sizeof(char *));
	if (!child) {
		log_error("out of memory");
		return 5;
	}
	int n = 0;
	child[n++] = (char *)"mpvmm";
	child[n++] = (char *)"run";
	child[n++] = (char *)"--accel";
	child[n++] = (char *)"soft";
	child[n++] = (char *)"--quiet";
	child[n++] = (char *)"--seed";
	child[n++] = seed_buf;
	for (int i = 0; i < argc; i++)
		child[n++] = argv[i];
	child[n] = NULL;

	unsigned long failed = 0;
	for (unsigned long s = 1; s <= seeds; s++) {
		bool timed_out = false;
		int st = run_seed(child, s, seed_buf, sizeof(seed_buf), &timed_out);
		if (st == 0)
			continue;
		if (st == 2 && failed == 0 && s == 1) {
			log_error("the run options are refused (exit status 2): try them with mpvmm run");
			free(child);
			return 2;
		}
		if (failed++ == 0)
			printf("failing seeds (replay each with the command below it):\n");
		printf("seed %lu: %s %d\n", s, timed_out ? "killed after the time limit, status" :
		       "exit status", st);
		print_replay(s, argc, argv);
	}
	printf("explore: %lu seeds, %lu failed\n", (unsigned long)seeds, failed);
	free(child);
	return failed ? 1 : 0;
}
