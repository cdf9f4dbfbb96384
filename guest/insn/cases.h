/*
 * cases.h - the insn guest's test cases (cases.c), run in order by run_all_cases.
 */
#ifndef INSN_CASES_H
#define INSN_CASES_H

void run_all_cases(void);

#endif
