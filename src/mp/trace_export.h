/*
 * trace_export.h - the MP trace in forms people read: Chrome Trace Event JSON (opens in
 * Perfetto and chrome://tracing), plain text, and an SVG timeline; and the time each vCPU
 * has spent in each MP state, computed from the trace.
 *
 * Reads the trace through struct mp; knows nothing of the VM, of KVM or of HTTP.  `end_ns`
 * (nanoseconds since VM start, normally "now") is where the last known state of every vCPU
 * ends; 0, or a time before the last event, means the last event.
 */
#ifndef MPVMM_MP_TRACE_EXPORT_H
#define MPVMM_MP_TRACE_EXPORT_H

#include <stdint.h>
#include <stdio.h>

#include "mp/mp.h"

enum trace_format {
	TRACE_FORMAT_CHROME = 0,
	TRACE_FORMAT_TEXT,
	TRACE_FORMAT_SVG,
	TRACE_FORMATS,
};

/* "chrome", "text" or "svg"; returns 0 or -1. */
int trace_format_parse(const char *name, enum trace_format *out);
const char *trace_format_name(enum trace_format f);
/* The MIME type of a format ("application/json", "text/plain", "image/svg+xml"). */
const char *trace_format_mime(enum trace_format f);

/* Each writes the whole document; returns 0, or -1 on allocation or write failure. */
int trace_export_chrome(struct mp *mp, uint64_t end_ns, FILE *out);
int trace_export_text(struct mp *mp, uint64_t end_ns, FILE *out);
int trace_export_svg(struct mp *mp, uint64_t end_ns, FILE *out);
int trace_export(struct mp *mp, enum trace_format f, uint64_t end_ns, FILE *out);
/* The same as a malloc'd, NUL-terminated string (length in *len if len); NULL on failure. */
char *trace_export_string(struct mp *mp, enum trace_format f, uint64_t end_ns, size_t *len);

/*
 * Nanoseconds vCPU `cpu` spent in each MP state from its first recorded state to end_ns, as
 * far as the trace tells (time before the first recorded state is in no state; end_ns 0 is
 * this vCPU's last event).  Returns 0, or -1 for a vCPU that does not exist or on
 * allocation failure.
 */
int trace_time_in_state(struct mp *mp, uint32_t cpu, uint64_t end_ns,
			uint64_t out[MP_STATE_COUNT]);

#endif
