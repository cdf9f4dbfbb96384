/*
 * step_prompt.h - `--step` on a terminal: whenever the VM is paused (before the first
 * instruction, at each break), a prompt on the terminal: Enter goes on (resume), `m` prints
 * the MP table so far, `q` stops the VM.  It knows the VM's public interface, not its parts.
 */
#ifndef MPVMM_STEP_PROMPT_H
#define MPVMM_STEP_PROMPT_H

struct vm;
struct step_prompt;

/* A thread reading standard input, if it is a terminal; NULL otherwise (nothing to end). */
struct step_prompt *step_prompt_start(struct vm *vm);
/* After vm_run: the thread ends (within its poll interval) and is joined. */
void step_prompt_end(struct step_prompt *p);

#endif
