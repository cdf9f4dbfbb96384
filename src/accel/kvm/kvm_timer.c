/*
 * kvm_timer.c - the clock of a KVM guest, and the timers of the interrupt controllers mpvmm
 * keeps beside it (its local APICs, its PIT): KVM runs guest time on the host's, so they run
 * on CLOCK_MONOTONIC, fired by one thread of their own.  It knows the machine only through
 * struct accel_machine (when is the next timer, fire what is due).
 */
#include "accel/kvm/kvm_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/crash.h"
#include "util/log.h"
#include "util/seccomp.h"

static uint64_t host_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t kvm_now_ns(struct accel *a)
{
	(void)a;
	return host_now_ns(); /* the LAPIC timers run on host time */
}

/*
 * The timers' thread: fire what is due (the machine's advance: mpvmm's local APICs kick the
 * vCPUs they wake, its PIT raises IRQ 0), then
 * sleep until the next deadline, or until a vCPU says a deadline may have moved (timer_look),
 * or at most KVM_TIMER_MAX_SLEEP_NS.  The machine's locks are taken without timer_lock held.
 */
static void *timer_thread(void *arg)
{
	struct kvm *k = arg;

	(void)pthread_setname_np(pthread_self(), "mpvmm-timer"); /* a name only helps logs */
	sandbox_thread(SANDBOX_TIMER);
	pthread_mutex_lock(&k->timer_lock);
	while (!k->timer_stop) {
		k->timer_look = false;
		pthread_mutex_unlock(&k->timer_lock);
		uint64_t now = host_now_ns();
		k->m.advance(k->m.ctx, now);
		uint64_t t = k->m.next_event(k->m.ctx);
		if (t == ACCEL_NO_EVENT || t > now + KVM_TIMER_MAX_SLEEP_NS)
			t = now + KVM_TIMER_MAX_SLEEP_NS;
		struct timespec until = { .tv_sec = (time_t)(t / 1000000000ull),
					  .tv_nsec = (long)(t % 1000000000ull) };
		pthread_mutex_lock(&k->timer_lock);
		while (!k->timer_stop && !k->timer_look && host_now_ns() < t)
			if (pthread_cond_timedwait(&k->timer_cond, &k->timer_lock, &until) == ETIMEDOUT)
				break;
	}
	pthread_mutex_unlock(&k->timer_lock);
	return NULL;
}

/* Look at the deadlines again now (any thread; a no-op before set_machine). */
static void timer_look(struct kvm *k)
{
	if (!k->timer_started)
		return;
	pthread_mutex_lock(&k->timer_lock);
	k->timer_look = true;
	pthread_cond_signal(&k->timer_cond);
	pthread_mutex_unlock(&k->timer_lock);
}

void kvm_timer_stop(struct kvm *k)
{
	if (!k->timer_started)
		return;
	pthread_mutex_lock(&k->timer_lock);
	k->timer_stop = true;
	pthread_cond_signal(&k->timer_cond);
	pthread_mutex_unlock(&k->timer_lock);
	pthread_join(k->timer, NULL);
	k->timer_started = false;
	pthread_cond_destroy(&k->timer_cond);
	pthread_mutex_destroy(&k->timer_lock);
}

void kvm_timers_changed(struct accel *a)
{
	timer_look(kvm_of(a));
}

/* VM scope, before the vCPU threads: the machine, and the thread for its timers. */
void kvm_set_machine(struct accel *a, const struct accel_machine *m)
{
	struct kvm *k = kvm_of(a);
	pthread_condattr_t ca;
	sigset_t all, old;

	if (!m) { /* teardown: the timer thread must not touch the vCPUs any more */
		kvm_timer_stop(k);
		return;
	}
	k->m = *m;
	pthread_mutex_init(&k->timer_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&k->timer_cond, &ca);
	pthread_condattr_destroy(&ca);
	/* The timer thread takes no signal: SIGINT/SIGTERM and kicks are for other threads. */
	sigfillset(&all);
	crash_signals_remove(&all); /* a crash there is reported */
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int r = pthread_create(&k->timer, NULL, timer_thread, k);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		log_error("cannot start the timer thread: %s", strerror(r));
		pthread_cond_destroy(&k->timer_cond);
		pthread_mutex_destroy(&k->timer_lock);
		return;
	}
	k->timer_started = true;
}
