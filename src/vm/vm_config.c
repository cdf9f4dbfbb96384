/*
 * vm_config.c - see vm_config.h.
 */
#include "vm/vm_config.h"

#include <stdio.h>
#include <string.h>

void config_defaults(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->topo = (struct topology){ .cpus = CONFIG_DEFAULT_CPUS, .sockets = 1,
				       .cores = CONFIG_DEFAULT_CPUS, .threads = 1 };
	cfg->mem_size = CONFIG_DEFAULT_MEMORY;
	cfg->ap_timeout_ms = CONFIG_DEFAULT_AP_TIMEOUT_MS;
	cfg->debug_exit_port = CONFIG_DEFAULT_DEBUG_EXIT_PORT;
	snprintf(cfg->guest, sizeof(cfg->guest), "selftest");
	cfg->seccomp = CONFIG_DEFAULT_SECCOMP;
}
