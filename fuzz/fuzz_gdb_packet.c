/*
 * fuzz_gdb_packet.c - the gdb stub's input under libFuzzer: any bytes framed by the packet
 * layer (gdb_packet.c: `$...#CK`, acknowledgements, 0x03), and every packet that passes its
 * checksum answered by the command layer (gdb_cmds.c, with breakpoints, memory through the
 * page walker, registers, monitor commands) over a fake target: 4 vCPUs, 1 MiB of RAM with
 * a 4-level page table, registers kept in arrays.  A run or step request is only recorded.
 * Each reply must fit the reply buffer and frame back.
 *
 * Built with clang: `-fsanitize=fuzzer`; otherwise (FUZZ_REPLAY_MAIN) a plain main replays
 * the files and directories it is given (fuzz/corpus/gdb_packet).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gdb/gdb_session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NCPUS 4
#define RAM (1u << 20)

static uint8_t ram[RAM];
static struct api_vcpu_regs cpu[NCPUS];
static char frame[2 * GDB_REPLY_MAX + 8];

static uint32_t f_ncpus(void *ctx) { (void)ctx; return NCPUS; }

static enum api_status f_info(void *ctx, uint32_t id, struct api_vcpu_info *out, char *err,
			      size_t errlen)
{
	(void)ctx; (void)err; (void)errlen;
	memset(out, 0, sizeof(*out));
	out->id = id;
	out->apic_id = 2 * id;
	out->is_bsp = id == 0;
	out->mp_state_known = true;
	out->mp_state = id ? MP_STATE_UNINITIALIZED : MP_STATE_RUNNABLE;
	return API_OK;
}

static enum api_status f_regs(void *ctx, uint32_t id, struct api_vcpu_regs *out, char *err,
			      size_t errlen)
{
	(void)ctx; (void)err; (void)errlen;
	if (id >= NCPUS)
		return API_NOT_FOUND;
	*out = cpu[id];
	return API_OK;
}

static enum api_status f_act(void *ctx, uint32_t id, char *err, size_t errlen)
{
	(void)ctx; (void)err; (void)errlen;
	return id < NCPUS ? API_OK : API_NOT_FOUND;
}

static enum api_status f_sipi(void *ctx, uint32_t id, uint8_t v, char *err, size_t errlen)
{
	(void)v;
	return f_act(ctx, id, err, errlen);
}

static enum api_status f_state(void *ctx, uint32_t id, enum mp_state s, char *err,
			       size_t errlen)
{
	(void)s;
	return f_act(ctx, id, err, errlen);
}

static int f_set_regs(void *ctx, uint32_t id, const struct x86_regs *r,
		      const struct x86_sregs *s)
{
	(void)ctx;
	if (id >= NCPUS)
		return -1;
	cpu[id].regs = *r;
	cpu[id].sregs = *s;
	return 0;
}

static void *f_phys(void *ctx, uint64_t gpa, size_t len)
{
	(void)ctx;
	return gpa < RAM && len <= RAM - gpa ? ram + gpa : NULL;
}

static const struct api_ops api = {
	.ncpus = f_ncpus, .vcpu_info = f_info, .vcpu_regs = f_regs, .send_init = f_act,
	.send_sipi = f_sipi, .set_mp_state = f_state,
};
static const struct gdb_target target = {
	.api = &api, .set_regs = f_set_regs, .phys = f_phys, .exec_bps = 4, .watch = true,
	.why_not = "fuzz",
};

/* vCPU 0 in long mode on an identity map of the first 1 GiB (a 1 GiB page), vCPU 1 in
 * real mode, vCPU 2 with 32-bit paging, vCPU 3 with PAE (tables that point anywhere). */
static void setup(void)
{
	uint64_t pml4 = 0x1000 | 3, pdpt = 0x83; /* PDPT at 0x1000; 1 GiB page at 0 */

	memset(ram, 0, 0x10000); /* what the seeds write lies there */
	memset(cpu, 0, sizeof(cpu));
	memcpy(ram, &pml4, 8);
	memcpy(ram + 0x1000, &pdpt, 8);
	cpu[0].sregs.cr0 = X86_CR0_PE | X86_CR0_PG;
	cpu[0].sregs.cr4 = X86_CR4_PAE;
	cpu[0].sregs.efer = X86_EFER_LMA | X86_EFER_LME;
	cpu[1].sregs.cs.selector = 0x800;
	cpu[1].sregs.cs.base = 0x8000;
	cpu[2].sregs.cr0 = X86_CR0_PE | X86_CR0_PG;
	cpu[2].sregs.cr3 = 0x2000;
	cpu[3].sregs.cr0 = X86_CR0_PE | X86_CR0_PG;
	cpu[3].sregs.cr4 = X86_CR4_PAE;
	cpu[3].sregs.cr3 = 0x3000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gdb_session s = { .t = &target, .ncpus = NCPUS, .g_cpu = GDB_NO_CPU,
				 .c_cpu = GDB_NO_CPU, .stop_sig = 5 };
	static struct gdb_rx rx;
	static char reply[GDB_REPLY_MAX + 1];

	setup(); /* every input from the same machine */
	gdb_rx_init(&rx);
	for (size_t i = 0; i < size; i++) {
		if (gdb_rx_byte(&rx, data[i]) != GDB_RX_PACKET)
			continue;
		gdb_handle(&s, rx.buf, rx.len, reply, sizeof(reply));
		size_t n = strlen(reply);
		if (n > GDB_REPLY_MAX || !gdb_frame(reply, n, frame, sizeof(frame)))
			abort();
	}
	gdb_bp_remove_all(&s);
	return 0;
}

#ifdef FUZZ_REPLAY_MAIN
#include "replay.h"

int main(int argc, char **argv)
{
	return fuzz_replay_main(argc, argv, "fuzz_gdb_packet");
}
#endif
