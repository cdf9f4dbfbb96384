/*
 * accels.c - see accels.h.  The table is in --accel auto's order of preference: KVM runs
 * guest code on the CPU itself, the software CPU (Unicorn) emulates it.
 */
#include "vm/accels.h"

#include "accel/kvm/kvm.h"
#include "accel/soft/soft.h"

#include <stdio.h>
#include <string.h>

#include "util/log.h"
#include "util/words.h"
#include "vm/vm.h"

#define ERRLEN 512

static struct accel *open_kvm(const struct vm_config *cfg, bool *absent, char *err,
			      size_t errlen)
{
	struct accel *a = accel_kvm_open(absent, err, errlen);

	/* The chaos guest draws from the seed on any accelerator; KVM's turns are its own. */
	if (a && cfg->seeded && strcmp(cfg->guest, "chaos"))
		log_warn("--seed orders the software CPU's turns; KVM ignores it");
	return a;
}

static struct accel *open_soft(const struct vm_config *cfg, bool *absent, char *err,
			       size_t errlen)
{
	*absent = false;
	return accel_soft_open(cfg->seeded, cfg->seed, err, errlen);
}

static int prepare_kvm(bool *absent, char *err, size_t errlen)
{
	return accel_kvm_prepare(absent, err, errlen);
}

static int prepare_soft(bool *absent, char *err, size_t errlen)
{
	*absent = false;
	return accel_soft_prepare(err, errlen);
}

/* What the software CPU cannot run, whatever the host: one line in err. */
static int refuse_soft(const struct vm_config *cfg, char *err, size_t errlen)
{
	if (cfg->kernel) {
		snprintf(err, errlen, "--kernel needs --accel kvm: the software CPU runs only "
			 "identity-mapped guests (paging does not translate in Unicorn 2.0.1)");
		return -1;
	}
	if (cfg->topo.cpus > CONFIG_SOFT_MAX_CPUS) {
		snprintf(err, errlen, "--cpus %u: the software CPU allows at most %u vCPUs (xAPIC "
			 "IDs only: it cannot trap RDMSR/WRMSR, so it has no x2APIC)",
			 cfg->topo.cpus, CONFIG_SOFT_MAX_CPUS);
		return -1;
	}
	if (cfg->x2apic) {
		snprintf(err, errlen, "--x2apic: the software CPU has no x2APIC (it cannot trap "
			 "RDMSR/WRMSR)");
		return -1;
	}
	return 0;
}

static const struct accel_choice {
	const char *name;
	/* What it cannot run, in one line (before it is opened); NULL: nothing. */
	int (*refuse)(const struct vm_config *cfg, char *err, size_t errlen);
	/* NULL with a reason in err; *absent when this host has none of it. */
	struct accel *(*open)(const struct vm_config *cfg, bool *absent, char *err,
			      size_t errlen);
	/* What open needs from the host's filesystem, taken before a jail: 0, or -1 with a
	 * reason in err (*absent as for open). */
	int (*prepare)(bool *absent, char *err, size_t errlen);
	const char *chosen; /* why --accel auto took it, when it is the first */
} accels[] = {
	{ "kvm", NULL, open_kvm, prepare_kvm, "/dev/kvm opened" },
	{ "soft", refuse_soft, open_soft, prepare_soft, "it needs no KVM" },
};
#define NACCELS (sizeof(accels) / sizeof(accels[0]))

const char *vm_accel_names(void)
{
	static char names[64];
	const char *w[NACCELS + 1];

	for (size_t i = 0; i < NACCELS; i++)
		w[i] = accels[i].name;
	w[NACCELS] = "auto";
	return words_or(names, sizeof(names), w, NACCELS + 1);
}

const char *vm_accel_find(const char *name)
{
	for (size_t i = 0; name && i < NACCELS; i++)
		if (!strcmp(accels[i].name, name))
			return accels[i].name;
	return NULL;
}

int vm_accel_refuses(const struct vm_config *cfg, const char *name, char *err, size_t errlen)
{
	for (size_t i = 0; i < NACCELS; i++)
		if (!strcmp(accels[i].name, name) && accels[i].refuse)
			return accels[i].refuse(cfg, err, errlen);
	return 0;
}

bool vm_accel_known(const char *name)
{
	for (size_t i = 0; name && i < NACCELS; i++)
		if (!strcmp(accels[i].name, name))
			return true;
	return !name;
}

struct accel *vm_accel_open(const struct vm_config *cfg, int *status)
{
	char err[ERRLEN] = "", before[ERRLEN] = "";
	bool absent = false;

	for (size_t i = 0; i < NACCELS; i++) {
		const struct accel_choice *c = &accels[i];
		if (cfg->accel && strcmp(cfg->accel, c->name))
			continue;
		const char *why = before[0] ? before : c->chosen;
		if (c->refuse && c->refuse(cfg, err, sizeof(err)) < 0) {
			if (!cfg->accel)
				log_info("accelerator: %s (--accel auto: %s)", c->name, why);
			log_error("%s", err);
			*status = VM_STATUS_USAGE;
			return NULL;
		}
		struct accel *a = c->open(cfg, &absent, err, sizeof(err));
		if (a && !cfg->accel)
			log_info("accelerator: %s (--accel auto: %s)", c->name, why);
		if (a)
			return a;
		if (cfg->accel || !absent)
			break;
		snprintf(before, sizeof(before), "%s", err);
	}
	log_error("%s", err);
	*status = absent ? VM_STATUS_NO_KVM : VM_STATUS_VMM_ERROR;
	return NULL;
}

int vm_accel_prepare(const char *name, int *status)
{
	char err[ERRLEN] = "";
	bool absent = false;

	for (size_t i = 0; i < NACCELS; i++) {
		if (name && strcmp(name, accels[i].name))
			continue;
		if (accels[i].prepare(&absent, err, sizeof(err)) == 0)
			return 0;
		if (name || !absent)
			break;
	}
	log_error("%s", err);
	*status = absent ? VM_STATUS_NO_KVM : VM_STATUS_VMM_ERROR;
	return -1;
}
