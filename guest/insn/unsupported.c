/*
 * unsupported.c - the insn-unsupported guest: executes one instruction that neither this
 * host's KVM nor mpvmm carries (UNSUPPORTED_INSN), so mpvmm must stop the run with a report
 * naming it.  Should the instruction complete anyway, the guest says so and reports FAIL.
 */
#include "arch.h"
#include "lib.h"
#include "mpvmm/selftest_abi.h"

__attribute__((noreturn)) void bsp_main(const struct selftest_bootinfo *bi);

void bsp_main(const struct selftest_bootinfo *bi)
{
	uint32_t crc = 0;

	(void)bi;
	printk("insn-unsupported: executing crc32\n");
	/* CRC32 r32, r/m8 (F2 0F 38 F0 /r, Intel SDM Vol. 2A): no KVM emulator implements it. */
	__asm__ volatile("crc32b %1, %0" : "+r"(crc) : "r"((uint8_t)0x5a));
	printk("insn-unsupported: FAIL crc32 completed (0x%x)\n", crc);
	outl(SELFTEST_PORT_RESULT, 1);
	halt_forever();
}
