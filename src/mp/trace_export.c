/*
 * trace_export.c - see trace_export.h.  Every export starts from one snapshot: each vCPU's
 * events copied out of the trace and sorted by time (rings are filled by several threads,
 * so reservation order and timestamp order may differ by a hair).  Nothing here writes to
 * the trace.  All strings written are names from fixed tables and numbers, so the JSON and
 * the XML need no escaping.
 */
#include "mp/trace_export.h"

#include "mp/mp_break.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct snapshot {
	uint32_t ncpus;
	struct trace_event *ev; /* all events, vCPU by vCPU                    */
	size_t *first;          /* ncpus + 1 offsets into ev                   */
	size_t n;
	uint64_t end_ns;        /* where the last states end                   */
};

static void sort_by_time(struct trace_event *ev, size_t n)
{
	/* Insertion sort: stable, and linear on the almost sorted rings. */
	for (size_t i = 1; i < n; i++) {
		struct trace_event e = ev[i];
		size_t j = i;
		for (; j > 0 && ev[j - 1].t_ns > e.t_ns; j--)
			ev[j] = ev[j - 1];
		ev[j] = e;
	}
}

static void snapshot_free(struct snapshot *s)
{
	free(s->ev);
	free(s->first);
}

static int snapshot_take(struct mp *mp, uint64_t end_ns, struct snapshot *s)
{
	struct trace *t = mp_trace(mp);
	size_t cap = trace_capacity(t);

	*s = (struct snapshot){ .ncpus = mp_ncpus(mp), .end_ns = end_ns };
	s->first = calloc((size_t)s->ncpus + 1, sizeof(*s->first));
	s->ev = calloc((size_t)s->ncpus * cap + 1, sizeof(*s->ev));
	if (!s->first || !s->ev) {
		snapshot_free(s);
		return -1;
	}
	for (uint32_t c = 0; c < s->ncpus; c++) {
		size_t k = trace_copy(t, c, s->ev + s->n, cap);
		sort_by_time(s->ev + s->n, k);
		s->first[c] = s->n;
		s->n += k;
		if (k && s->ev[s->n - 1].t_ns > s->end_ns)
			s->end_ns = s->ev[s->n - 1].t_ns;
	}
	s->first[s->ncpus] = s->n;
	return 0;
}

/* The next state event of cpu after index i (or the end of its events). */
static size_t next_state(const struct snapshot *s, uint32_t cpu, size_t i)
{
	for (i++; i < s->first[cpu + 1]; i++)
		if (s->ev[i].kind == TRACE_STATE)
			break;
	return i;
}

static uint64_t state_end(const struct snapshot *s, uint32_t cpu, size_t next)
{
	return next < s->first[cpu + 1] ? s->ev[next].t_ns : s->end_ns;
}

static bool is_ipi(const struct trace_event *e)
{
	return e->kind == TRACE_INIT || e->kind == TRACE_SIPI || e->kind == TRACE_IPI;
}

static bool has_sender(const struct snapshot *s, const struct trace_event *e)
{
	return is_ipi(e) && e->from != TRACE_NO_CPU && e->from < s->ncpus;
}

/* ---- formats ------------------------------------------------------------------------ */

static const char *const format_names[TRACE_FORMATS] = { "chrome", "text", "svg" };
static const char *const format_mimes[TRACE_FORMATS] = {
	"application/json", "text/plain; charset=utf-8", "image/svg+xml",
};

int trace_format_parse(const char *name, enum trace_format *out)
{
	for (unsigned i = 0; name && i < TRACE_FORMATS; i++) {
		if (!strcmp(name, format_names[i])) {
			*out = (enum trace_format)i;
			return 0;
		}
	}
	return -1;
}

const char *trace_format_name(enum trace_format f)
{
	return (unsigned)f < TRACE_FORMATS ? format_names[f] : "?";
}

const char *trace_format_mime(enum trace_format f)
{
	return (unsigned)f < TRACE_FORMATS ? format_mimes[f] : "application/octet-stream";
}

/* ---- time in state ------------------------------------------------------------------ */

/* One vCPU's events, sorted: each state lasts until the next state event, the last until end. */
static void time_in_events(const struct trace_event *ev, size_t n, uint64_t end,
			   uint64_t out[MP_STATE_COUNT])
{
	memset(out, 0, MP_STATE_COUNT * sizeof(out[0]));
	for (size_t i = 0; i < n; i++) {
		if (ev[i].kind != TRACE_STATE || ev[i].state >= MP_STATE_COUNT)
			continue;
		size_t j = i + 1;
		while (j < n && ev[j].kind != TRACE_STATE)
			j++;
		uint64_t until = j < n ? ev[j].t_ns : end;
		out[ev[i].state] += until > ev[i].t_ns ? until - ev[i].t_ns : 0;
	}
}

static void time_in_state(const struct snapshot *s, uint32_t cpu, uint64_t out[MP_STATE_COUNT])
{
	time_in_events(s->ev + s->first[cpu], s->first[cpu + 1] - s->first[cpu], s->end_ns, out);
}

/* Only this vCPU's ring is copied: GET /vcpus asks this for every vCPU. */
int trace_time_in_state(struct mp *mp, uint32_t cpu, uint64_t end_ns,
			uint64_t out[MP_STATE_COUNT])
{
	struct trace *t = mp_trace(mp);
	struct trace_event *ev = calloc(trace_capacity(t) + 1, sizeof(*ev));

	if (cpu >= mp_ncpus(mp) || !ev) {
		free(ev);
		return -1;
	}
	size_t n = trace_copy(t, cpu, ev, trace_capacity(t));
	sort_by_time(ev, n);
	time_in_events(ev, n, n && ev[n - 1].t_ns > end_ns ? ev[n - 1].t_ns : end_ns, out);
	free(ev);
	return 0;
}

/* ---- Chrome Trace Event JSON -------------------------------------------------------- */

/* Microseconds, the unit of "ts" and "dur". */
static void put_us(FILE *out, const char *key, uint64_t ns)
{
	fprintf(out, ",\"%s\":%" PRIu64 ".%03u", key, ns / 1000, (unsigned)(ns % 1000));
}

static void chrome_metadata(const struct snapshot *s, struct mp *mp, FILE *out)
{
	fprintf(out, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,"
		"\"args\":{\"name\":\"mpvmm vCPUs (MP state backend %s)\"}}", mp_backend_name(mp));
	for (uint32_t c = 0; c < s->ncpus; c++) {
		const struct mp_cpu *mc = mp_cpu(mp, c);
		fprintf(out, ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%u,"
			"\"args\":{\"name\":\"vCPU %u (APIC ID %u%s)\"}}", c, c, mc->apic_id,
			mc->bsp ? ", BSP" : "");
		fprintf(out, ",\n{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":1,\"tid\":%u,"
			"\"args\":{\"sort_index\":%u}}", c, c);
	}
}

static void chrome_state(const struct snapshot *s, uint32_t c, size_t i, FILE *out)
{
	const struct trace_event *e = &s->ev[i];
	uint64_t end = state_end(s, c, next_state(s, c, i));

	fprintf(out, ",\n{\"name\":\"%s\",\"cat\":\"mp_state\",\"ph\":\"X\",\"pid\":1,\"tid\":%u",
		mp_state_name(e->state), c);
	put_us(out, "ts", e->t_ns);
	put_us(out, "dur", end > e->t_ns ? end - e->t_ns : 0);
	fprintf(out, ",\"args\":{\"state\":\"%s\",\"source\":\"%s\"}}", mp_state_name(e->state),
		trace_source_name(e->source));
}

static void chrome_instant(const struct snapshot *s, uint32_t c, size_t i, FILE *out)
{
	const struct trace_event *e = &s->ev[i];
	bool ipi = is_ipi(e);

	fprintf(out, ",\n{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"i\",\"s\":\"t\",\"pid\":1,"
		"\"tid\":%u", trace_kind_name(e->kind), ipi ? "ipi" : "vcpu", c);
	put_us(out, "ts", e->t_ns);
	fprintf(out, ",\"args\":{\"source\":\"%s\"", trace_source_name(e->source));
	if (ipi && e->from != TRACE_NO_CPU)
		fprintf(out, ",\"from\":%u", e->from);
	if (e->kind == TRACE_SIPI || e->kind == TRACE_IPI)
		fprintf(out, ",\"vector\":%u", e->vector);
	if (e->kind == TRACE_BREAK)
		fprintf(out, ",\"event\":\"%s\"", mp_break_event_name(e->state));
	fputs("}}", out);
}

/* A flow arrow from the sender's track to the target's, bound to the slices there. */
static void chrome_flow(const struct trace_event *e, uint64_t id, FILE *out)
{
	fprintf(out, ",\n{\"name\":\"%s\",\"cat\":\"ipi\",\"ph\":\"s\",\"id\":%" PRIu64
		",\"pid\":1,\"tid\":%u", trace_kind_name(e->kind), id, e->from);
	put_us(out, "ts", e->t_ns);
	fprintf(out, "},\n{\"name\":\"%s\",\"cat\":\"ipi\",\"ph\":\"f\",\"bp\":\"e\",\"id\":%"
		PRIu64 ",\"pid\":1,\"tid\":%u", trace_kind_name(e->kind), id, e->cpu);
	put_us(out, "ts", e->t_ns);
	fputs("}", out);
}

static void chrome_other(const struct snapshot *s, struct mp *mp, FILE *out)
{
	fprintf(out, "\"otherData\":{\"mp_backend\":\"%s\",\"vcpus\":%u,\"end_ns\":%" PRIu64
		",\"dropped_events\":{", mp_backend_name(mp), s->ncpus, s->end_ns);
	bool any = false;
	for (uint32_t c = 0; c < s->ncpus; c++) {
		uint64_t d = trace_dropped(mp_trace(mp), c);
		if (d) {
			fprintf(out, "%s\"%u\":%" PRIu64, any ? "," : "", c, d);
			any = true;
		}
	}
	fputs("}}", out);
}

int trace_export_chrome(struct mp *mp, uint64_t end_ns, FILE *out)
{
	struct snapshot s;
	uint64_t flow_id = 0;

	if (snapshot_take(mp, end_ns, &s) < 0)
		return -1;
	fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n", out);
	chrome_metadata(&s, mp, out);
	for (uint32_t c = 0; c < s.ncpus; c++) {
		for (size_t i = s.first[c]; i < s.first[c + 1]; i++) {
			if (s.ev[i].kind == TRACE_STATE) {
				chrome_state(&s, c, i, out);
				continue;
			}
			chrome_instant(&s, c, i, out);
			if (has_sender(&s, &s.ev[i]))
				chrome_flow(&s.ev[i], ++flow_id, out);
		}
	}
	fputs("\n],\n", out);
	chrome_other(&s, mp, out);
	fputs("}\n", out);
	snapshot_free(&s);
	return ferror(out) ? -1 : 0;
}

/* ---- text --------------------------------------------------------------------------- */

static int cmp_time(const void *a, const void *b)
{
	const struct trace_event *x = *(const struct trace_event *const *)a;
	const struct trace_event *y = *(const struct trace_event *const *)b;

	if (x->t_ns != y->t_ns)
		return x->t_ns < y->t_ns ? -1 : 1;
	if (x->cpu != y->cpu)
		return x->cpu < y->cpu ? -1 : 1;
	return x < y ? -1 : x > y; /* keep each vCPU's order */
}

static void text_detail(const struct trace_event *e, char *buf, size_t len)
{
	char from[32] = "";

	if (is_ipi(e) && e->from != TRACE_NO_CPU)
		snprintf(from, sizeof(from), " from vCPU %u", e->from);
	if (e->kind == TRACE_STATE)
		snprintf(buf, len, "%s", mp_state_name(e->state));
	else if (e->kind == TRACE_BREAK)
		snprintf(buf, len, "%s", mp_break_event_name(e->state));
	else if (e->kind == TRACE_SIPI || e->kind == TRACE_IPI)
		snprintf(buf, len, "vector 0x%02x%s", e->vector, from);
	else
		snprintf(buf, len, "%s", from[0] ? from + 1 : "-");
}

static void text_events(const struct snapshot *s, FILE *out)
{
	const struct trace_event **order = malloc((s->n + 1) * sizeof(*order));
	char detail[64];

	if (!order)
		return;
	for (size_t i = 0; i < s->n; i++)
		order[i] = &s->ev[i];
	qsort(order, s->n, sizeof(*order), cmp_time);
	fprintf(out, "%12s  %5s  %-10s  %-26s  %s\n", "time ms", "vCPU", "event", "detail",
		"source");
	for (size_t i = 0; i < s->n; i++) {
		const struct trace_event *e = order[i];
		text_detail(e, detail, sizeof(detail));
		fprintf(out, "%12.6f  %5u  %-10s  %-26s  %s\n", (double)e->t_ns / 1e6, e->cpu,
			trace_kind_name(e->kind), detail, trace_source_name(e->source));
	}
	free(order);
}

static void text_time_in_state(const struct snapshot *s, struct mp *mp, FILE *out)
{
	uint64_t t[MP_STATE_COUNT];

	fprintf(out, "\n# time in each MP state (ms), up to %.6f ms\n%5s", (double)s->end_ns / 1e6,
		"vCPU");
	for (unsigned k = 0; k < MP_STATE_COUNT; k++)
		fprintf(out, "  %14s", mp_state_name(k));
	fputs("  dropped\n", out);
	for (uint32_t c = 0; c < s->ncpus; c++) {
		time_in_state(s, c, t);
		fprintf(out, "%5u", c);
		for (unsigned k = 0; k < MP_STATE_COUNT; k++)
			fprintf(out, "  %14.6f", (double)t[k] / 1e6);
		fprintf(out, "  %7" PRIu64 "\n", trace_dropped(mp_trace(mp), c));
	}
}

int trace_export_text(struct mp *mp, uint64_t end_ns, FILE *out)
{
	struct snapshot s;

	if (snapshot_take(mp, end_ns, &s) < 0)
		return -1;
	fprintf(out, "# mpvmm MP trace: %u vCPUs, MP state backend %s, %zu events, times in ms "
		"since VM start\n# source: exact = read or made by mpvmm, guest = reported by the "
		"guest, inferred = deduced\n", s.ncpus, mp_backend_name(mp), s.n);
	text_events(&s, out);
	text_time_in_state(&s, mp, out);
	snapshot_free(&s);
	return ferror(out) ? -1 : 0;
}

/* ---- SVG timeline ------------------------------------------------------------------- */

#define SVG_WIDTH 1100
#define SVG_LEFT 130    /* lane labels */
#define SVG_RIGHT 30
#define SVG_TOP 70      /* title and legend */
#define SVG_PLOT_MAX 760 /* lanes never take more height than this (but at least 2 px each) */
#define SVG_MAX_ARROWS 512

static const char *const state_colors[MP_STATE_COUNT] = {
	[MP_STATE_UNINITIALIZED] = "#b8c0cc",
	[MP_STATE_INIT_RECEIVED] = "#f5a623",
	[MP_STATE_SIPI_RECEIVED] = "#9b59b6",
	[MP_STATE_RUNNABLE] = "#2eaf5e",
	[MP_STATE_HALTED] = "#3a86d6",
};

struct svg {
	const struct snapshot *s;
	struct mp *mp;
	FILE *out;
	double lane;      /* lane height, px */
	double bar;       /* bar height inside a lane */
	double plot_w;
	uint64_t span_ns; /* time at the right edge */
	uint32_t bsp;     /* index of the BSP */
};

static double svg_x(const struct svg *g, uint64_t t)
{
	return SVG_LEFT + g->plot_w * (double)t / (double)g->span_ns;
}

static double svg_lane_y(const struct svg *g, uint32_t c)
{
	return SVG_TOP + g->lane * c;
}

static void svg_legend(const struct svg *g)
{
	double x = SVG_LEFT;

	fprintf(g->out, "<text x=\"%d\" y=\"24\" class=\"title\">MP states of %u vCPUs "
		"(backend %s)</text>\n", SVG_LEFT, g->s->ncpus, mp_backend_name(g->mp));
	for (unsigned k = 0; k < MP_STATE_COUNT; k++) {
		fprintf(g->out, "<rect x=\"%.1f\" y=\"38\" width=\"14\" height=\"14\" fill=\"%s\"/>"
			"<text x=\"%.1f\" y=\"50\">%s</text>\n", x, state_colors[k], x + 19,
			mp_state_name(k));
		x += 40 + 8.0 * (double)strlen(mp_state_name(k));
	}
	fprintf(g->out, "<line x1=\"%.1f\" y1=\"45\" x2=\"%.1f\" y2=\"45\" class=\"init\" "
		"marker-end=\"url(#ah-init)\"/><text x=\"%.1f\" y=\"50\">INIT</text>\n", x, x + 24,
		x + 30);
	x += 75;
	fprintf(g->out, "<line x1=\"%.1f\" y1=\"45\" x2=\"%.1f\" y2=\"45\" class=\"sipi\" "
		"marker-end=\"url(#ah-sipi)\"/><text x=\"%.1f\" y=\"50\">SIPI</text>\n", x, x + 24,
		x + 30);
}

static void svg_label(const struct svg *g, uint32_t c)
{
	/* Label every lane when there is room, else every k-th one. */
	uint32_t every = g->lane >= 11 ? 1 : (uint32_t)(11 / g->lane) + 1;
	const struct mp_cpu *mc = mp_cpu(g->mp, c);
	uint32_t gap = c > g->bsp ? c - g->bsp : g->bsp - c;

	/* The BSP is always labelled; its neighbours give way. */
	if (!mc->bsp && (c % every || gap < every))
		return;
	double size = g->lane >= 11 ? 12 : 9;
	fprintf(g->out, "<text x=\"%d\" y=\"%.1f\" font-size=\"%.0f\" text-anchor=\"end\"%s>"
		"vCPU %u%s</text>\n", SVG_LEFT - 8, svg_lane_y(g, c) + g->lane / 2 + size / 3, size,
		mc->bsp ? " font-weight=\"bold\"" : "", c, mc->bsp ? " BSP" : "");
}

static void svg_lane(const struct svg *g, uint32_t c)
{
	const struct snapshot *s = g->s;
	double y = svg_lane_y(g, c) + (g->lane - g->bar) / 2;

	fprintf(g->out, "<rect x=\"%d\" y=\"%.2f\" width=\"%.1f\" height=\"%.2f\" "
		"class=\"unknown\"/>\n", SVG_LEFT, y, g->plot_w, g->bar);
	for (size_t i = s->first[c]; i < s->first[c + 1]; i++) {
		const struct trace_event *e = &s->ev[i];
		if (e->kind != TRACE_STATE || e->state >= MP_STATE_COUNT)
			continue;
		uint64_t end = state_end(s, c, next_state(s, c, i));
		double x0 = svg_x(g, e->t_ns), x1 = svg_x(g, end);
		fprintf(g->out, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
			"fill=\"%s\"><title>vCPU %u %s from %.6f ms (%s)</title></rect>\n", x0, y,
			x1 - x0 > 0.5 ? x1 - x0 : 0.5, g->bar, state_colors[e->state], c,
			mp_state_name(e->state), (double)e->t_ns / 1e6,
			trace_source_name(e->source));
	}
	svg_label(g, c);
}

static bool is_init_sipi(const struct trace_event *e)
{
	return e->kind == TRACE_INIT || e->kind == TRACE_SIPI;
}

static size_t svg_count_arrows(const struct snapshot *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += is_init_sipi(&s->ev[i]);
	return n;
}

/*
 * From the sender's lane to the target's bar; an INIT or SIPI from outside the vCPUs (the
 * control API) is a short arrow dropping onto the target's bar from above.
 */
static void svg_arrow(const struct svg *g, const struct trace_event *e)
{
	bool init = e->kind == TRACE_INIT, inside = has_sender(g->s, e);
	double x = svg_x(g, e->t_ns);
	double y1 = svg_lane_y(g, e->cpu) + g->lane / 2;
	double y0 = inside ? svg_lane_y(g, e->from) + g->lane / 2 : y1 - g->bar / 2 - 14;
	char from[32] = "outside";

	/* Stop at the edge of the target's bar, on the side the arrow comes from. */
	y1 += y1 > y0 ? -g->bar / 2 : g->bar / 2;
	if (inside)
		snprintf(from, sizeof(from), "vCPU %u", e->from);
	fprintf(g->out, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" class=\"%s\" "
		"marker-end=\"url(#ah-%s)\"><title>%s from %s to vCPU %u at %.6f ms</title>"
		"</line>\n", x, y0, x, y1, init ? "init" : "sipi", init ? "init" : "sipi",
		init ? "INIT" : "SIPI", from, e->cpu, (double)e->t_ns / 1e6);
}

static void svg_arrows(const struct svg *g)
{
	for (size_t i = 0; i < g->s->n; i++)
		if (is_init_sipi(&g->s->ev[i]))
			svg_arrow(g, &g->s->ev[i]);
}

/* A tick step of 1, 2 or 5 times a power of ten nanoseconds: 5 to 10 ticks on the axis. */
static uint64_t svg_tick_step(uint64_t span)
{
	uint64_t step = 1;

	for (;;) {
		static const unsigned mult[] = { 1, 2, 5 };
		for (unsigned i = 0; i < 3; i++)
			if (span / (step * mult[i]) <= 10)
				return step * mult[i];
		step *= 10;
	}
}

static void svg_axis(const struct svg *g, double y)
{
	uint64_t step = svg_tick_step(g->span_ns);
	double unit = step >= 1000000 ? 1e6 : step >= 1000 ? 1e3 : 1;
	const char *uname = unit == 1e6 ? "ms" : unit == 1e3 ? "\xc2\xb5s" : "ns";

	fprintf(g->out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"axis\"/>\n",
		SVG_LEFT, y, SVG_LEFT + g->plot_w, y);
	for (uint64_t t = 0; t <= g->span_ns; t += step) {
		double x = svg_x(g, t);
		fprintf(g->out, "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%.1f\" class=\"grid\"/>"
			"<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" class=\"axis\"/>"
			"<text x=\"%.2f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n", x, SVG_TOP,
			x, y, x, y, x, y + 5, x, y + 18, (double)t / unit);
	}
	fprintf(g->out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">time since VM start "
		"(%s)</text>\n", SVG_LEFT + g->plot_w, y + 36, uname);
}

static void svg_header(const struct svg *g, double height)
{
	fprintf(g->out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%.0f\" "
		"viewBox=\"0 0 %d %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
		"<style>.title{font-size:15px;font-weight:bold} .unknown{fill:#f2f3f5} "
		".grid{stroke:#e3e5e8;stroke-width:1} .axis{stroke:#555;stroke-width:1} "
		".init{stroke:#c0392b;stroke-width:1.5;stroke-opacity:0.85} "
		".sipi{stroke:#6c3483;stroke-width:1.5;stroke-opacity:0.85}</style>\n<defs>"
		"<marker id=\"ah-init\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"6\" "
		"markerHeight=\"6\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" "
		"fill=\"#c0392b\"/></marker>"
		"<marker id=\"ah-sipi\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"6\" "
		"markerHeight=\"6\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" "
		"fill=\"#6c3483\"/></marker></defs>\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", SVG_WIDTH, height,
		SVG_WIDTH, height);
}

int trace_export_svg(struct mp *mp, uint64_t end_ns, FILE *out)
{
	struct snapshot s;

	if (snapshot_take(mp, end_ns, &s) < 0)
		return -1;
	struct svg g = { .s = &s, .mp = mp, .out = out, .plot_w = SVG_WIDTH - SVG_LEFT - SVG_RIGHT };
	uint32_t n = s.ncpus ? s.ncpus : 1;
	g.lane = (double)SVG_PLOT_MAX / n;
	g.lane = g.lane > 28 ? 28 : g.lane < 2 ? 2 : g.lane;
	g.bar = g.lane >= 8 ? g.lane - 6 : g.lane >= 4 ? g.lane - 1 : g.lane;
	g.span_ns = s.end_ns ? s.end_ns : 1;
	for (uint32_t c = 0; c < s.ncpus; c++)
		if (mp_cpu(mp, c)->bsp)
			g.bsp = c;
	double axis_y = SVG_TOP + g.lane * n + 8;
	size_t arrows = svg_count_arrows(&s);
	bool draw_arrows = arrows <= SVG_MAX_ARROWS && g.lane >= 6;

	svg_header(&g, axis_y + 70);
	svg_legend(&g);
	svg_axis(&g, axis_y);
	for (uint32_t c = 0; c < s.ncpus; c++)
		svg_lane(&g, c);
	if (draw_arrows)
		svg_arrows(&g);
	else if (arrows)
		fprintf(out, "<text x=\"%d\" y=\"%.1f\" fill=\"#777\">%zu INIT/SIPI arrows not drawn: "
			"too dense for %u lanes</text>\n", SVG_LEFT, axis_y + 54, arrows, s.ncpus);
	fputs("</svg>\n", out);
	snapshot_free(&s);
	return ferror(out) ? -1 : 0;
}

/* ---- any format --------------------------------------------------------------------- */

int trace_export(struct mp *mp, enum trace_format f, uint64_t end_ns, FILE *out)
{
	switch (f) {
	case TRACE_FORMAT_CHROME:
		return trace_export_chrome(mp, end_ns, out);
	case TRACE_FORMAT_TEXT:
		return trace_export_text(mp, end_ns, out);
	case TRACE_FORMAT_SVG:
		return trace_export_svg(mp, end_ns, out);
	case TRACE_FORMATS:
		break;
	}
	return -1;
}

char *trace_export_string(struct mp *mp, enum trace_format f, uint64_t end_ns, size_t *len)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&buf, &size);

	if (!out)
		return NULL;
	int r = trace_export(mp, f, end_ns, out);
	if (fclose(out) != 0 || r < 0) {
		free(buf);
		return NULL;
	}
	if (len)
		*len = size;
	return buf;
}
