/*
 * ctl_print.h - the tables `mpvmm ctl` prints from the control API's JSON (ctl_print.c), for
 * ctl.c only.
 */
#ifndef MPVMM_CTL_PRINT_H
#define MPVMM_CTL_PRINT_H

#include <jansson.h>

json_int_t int_of(json_t *o, const char *key);
const char *str_of(json_t *o, const char *key, const char *none);
/* GET /vcpus: one row; the header is ctl.c's. */
void print_vcpu_row(json_t *v);
/* GET /vcpus/{id}, GET /vm, GET /vcpus/{id}/regs, GET /vcpus/{id}/lapic. */
void print_vcpu(json_t *v);
void print_vm(json_t *o);
/* A break on an MP event (GET /vm/breakpoints' last_break), one line after `label`. */
void print_break(const char *label, json_t *b);
void print_regs(json_t *o);
void print_lapic(json_t *o);

#endif
