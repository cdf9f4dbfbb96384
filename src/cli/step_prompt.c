/*
 * step_prompt.c - see step_prompt.h.  One thread: it looks every POLL_MS whether the VM is
 * paused, and then reads a line from standard input with poll(2), so that it notices the
 * end of the run between two keys and never blocks a join.
 */
#include "cli/step_prompt.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "vm/vm.h"

#define POLL_MS 100

struct step_prompt {
	struct vm *vm;
	pthread_t thread;
	_Atomic bool done;
};

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* One line from stdin (without its newline); false at the end of the run or of input. */
static bool read_line(struct step_prompt *p, char *buf, size_t len)
{
	size_t n = 0;

	while (!atomic_load(&p->done)) {
		struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
		int r = poll(&pfd, 1, POLL_MS);
		if (r < 0 && errno != EINTR)
			return false;
		if (r <= 0)
			continue;
		char c;
		ssize_t got = read(STDIN_FILENO, &c, 1);
		if (got <= 0)
			return false;
		if (c == '\n') {
			buf[n] = '\0';
			return true;
		}
		if (n + 1 < len)
			buf[n++] = c;
	}
	return false;
}

/* The VM is paused: ask until the answer lets it go on (or stops it). */
static void ask(struct step_prompt *p)
{
	char line[64];

	for (;;) {
		fprintf(stderr, "step> Enter: go on, m: MP table, q: quit > ");
		fflush(stderr);
		if (!read_line(p, line, sizeof(line))) {
			if (!atomic_load(&p->done))
				vm_stop(p->vm, VM_STATUS_INTERRUPTED, "end of input at the step prompt");
			return;
		}
		if (!strcmp(line, "q")) {
			vm_stop(p->vm, VM_STATUS_INTERRUPTED, "quit at the step prompt");
			return;
		}
		if (!strcmp(line, "m")) {
			vm_report(p->vm);
			continue;
		}
		if (!line[0]) {
			vm_resume(p->vm);
			return;
		}
		fprintf(stderr, "step: '%s'? Enter goes on, m prints the MP table, q quits\n",
			line);
	}
}

static void *prompt_main(void *arg)
{
	struct step_prompt *p = arg;

	while (!atomic_load(&p->done)) {
		if (vm_paused(p->vm))
			ask(p);
		else
			sleep_ms(POLL_MS / 2);
	}
	return NULL;
}

struct step_prompt *step_prompt_start(struct vm *vm)
{
	if (!isatty(STDIN_FILENO))
		return NULL;
	struct step_prompt *p = calloc(1, sizeof(*p));
	if (!p) {
		log_error("--step: out of memory for the prompt");
		return NULL;
	}
	p->vm = vm;
	atomic_init(&p->done, false);
	int r = pthread_create(&p->thread, NULL, prompt_main, p);
	if (r) {
		log_error("--step: cannot start the prompt's thread: %s", strerror(r));
		free(p);
		return NULL;
	}
	return p;
}

void step_prompt_end(struct step_prompt *p)
{
	if (!p)
		return;
	atomic_store(&p->done, true);
	pthread_join(p->thread, NULL);
	free(p);
}
