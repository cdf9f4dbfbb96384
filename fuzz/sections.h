/*
 * sections.h - the components whose snapshot decoders fuzz_sections.c drives, in the order
 * of its selector byte (input byte 0 modulo SECTION_PARTS), shared with sections_seeds.c,
 * which writes a real save of each behind its selector.  Each is built as fuzz_sections.c
 * says (two vCPUs with APIC IDs 0 and 1, the BSP first, x2APIC and a 1 GHz TSC, a clock
 * standing at SECTION_NOW_NS).
 */
#ifndef MPVMM_FUZZ_SECTIONS_H
#define MPVMM_FUZZ_SECTIONS_H

#define SECTION_NOW_NS 5000000000ull
#define SECTION_CPUS 2u
#define SECTION_TSC_HZ 1000000000ull

enum section_part {
	SECTION_MP_USER = 0, /* mp/mp_user.c, mp_user_load                       */
	SECTION_APIC_BUS,    /* mp/apic_bus.c, apic_bus_load (every lapic_load)   */
	SECTION_LAPIC,       /* mp/lapic_state.c, lapic_load of the BSP's APIC     */
	SECTION_CHIPSET,     /* dev/chipset.c, chipset_load                        */
	SECTION_PIC,         /* dev/pic.c, pic_load                                */
	SECTION_IOAPIC,      /* dev/ioapic.c, ioapic_load                          */
	SECTION_PIT,         /* dev/pit.c, pit_load                                */
	SECTION_SERIAL,      /* dev/serial.c, through its device table row         */
	SECTION_RTC,         /* dev/rtc.c, likewise                                */
	SECTION_I8042,       /* dev/i8042.c, likewise                              */
	SECTION_ACPI_PM,     /* dev/acpi_pm.c, likewise                            */
	SECTION_FW_CFG,      /* dev/fw_cfg.c, likewise                             */
	SECTION_PCI_NONE,    /* dev/pci_none.c, likewise                           */
	SECTION_TRACE,       /* mp/mp.c, mp_load of the MP trace                   */
	SECTION_PARTS,
};

#endif
