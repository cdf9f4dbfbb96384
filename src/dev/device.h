/*
 * device.h - how a device declares itself to the VM, once, in its own file: its name, its
 * snapshot section, the ports and MMIO it claims, and how it is created from what every
 * device may be given (struct device_env), destroyed, saved and loaded.  The VM walks the
 * table of them (vm/devices.c) to create, tear down, save and load the machine's devices;
 * a new device is its own file and one row there.
 *
 * A device knows the buses, its IRQ lines and the little it may ask of the VM (struct
 * vm_control); never a vCPU or the VM itself.
 */
#ifndef MPVMM_DEV_DEVICE_H
#define MPVMM_DEV_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dev/bus.h"
#include "dev/irq.h"
#include "dev/vm_control.h"

struct mp;
struct snap_enc;
struct snap_dec;

/* What a device may be given at creation; each takes what it needs. */
struct device_env {
	struct bus *pio, *mmio;
	const struct irq_line *irq;   /* the machine's IRQ lines (the --irqchip mode's)  */
	const struct vm_control *ctl; /* stop, reset, hold                             */
	struct mp *mp;                /* the MP interface (the self-test's reports)     */
	int console_fd;               /* where COM1's output goes                       */
	uint64_t ram_size;
	uint16_t ncpus;
	uint16_t debug_exit_port;
	bool step, hold;              /* --selftest-step, --selftest-hold              */
	bool builtin_guest;           /* a built-in test guest runs (not --kernel)      */
	/* The guest's mistakes, rate-limited with a budget for this device (vm/warn.h). */
	void (*warn)(void *warn_ctx, const char *msg);
	void *warn_ctx;
};

/* No snapshot section: the device holds no state a guest could see change. */
#define DEVICE_NOT_SAVED (-1)
#define DEVICE_MAX_CLAIMS 4

enum device_bus { DEVICE_PIO = 0, DEVICE_MMIO };

struct device_claim {
	enum device_bus bus;
	uint64_t base, len; /* len 0 ends the list */
};

struct device_desc {
	const char *name;   /* in messages: "the snapshot has no <name> state"            */
	int snap_id;        /* SNAP_SEC_DEVICE instance, or DEVICE_NOT_SAVED               */
	/* What create registers on the buses (tests/unit/test_device_table.c checks it);
	 * a claim at an address the configuration chooses lists the default. */
	struct device_claim claims[DEVICE_MAX_CLAIMS];
	/* Whether this machine has it (NULL: always). */
	bool (*wanted)(const struct device_env *env);
	/* NULL when out of memory or the claims overlap another device's. */
	void *(*create)(const struct device_env *env);
	void (*destroy)(void *dev);
	/* With snap_id: the state in the device's own encoding (-1 when out of memory), and
	 * back, checked whole before anything changes (-1 with one line in err). */
	int (*save)(void *dev, struct snap_enc *e);
	int (*load)(void *dev, struct snap_dec *d, char *err, size_t errlen);
};

/*
 * The table's untyped destroy, save and load for a device whose own take its type:
 * DEVICE_UNTYPED(serial) defines serial_untyped_destroy, _save and _load around
 * serial_destroy, serial_save and serial_load; DEVICE_UNTYPED_DESTROY only the first.
 */
#define DEVICE_UNTYPED_DESTROY(dev)                                                         \
	static void dev##_untyped_destroy(void *d)                                          \
	{                                                                                   \
		dev##_destroy(d);                                                           \
	}
#define DEVICE_UNTYPED(dev)                                                                 \
	DEVICE_UNTYPED_DESTROY(dev)                                                         \
	static int dev##_untyped_save(void *d, struct snap_enc *e)                          \
	{                                                                                   \
		return dev##_save(d, e);                                                    \
	}                                                                                   \
	static int dev##_untyped_load(void *d, struct snap_dec *s, char *err, size_t errlen) \
	{                                                                                   \
		return dev##_load(d, s, err, errlen);                                       \
	}

#endif
