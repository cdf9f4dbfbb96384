/*
 * explore.h - `mpvmm explore --seeds K [run options]`: run the guest on the software CPU
 * under K seeds, each a different but reproducible interleaving of the vCPUs, and report
 * every seed whose run fails with the command that replays it.
 */
#ifndef MPVMM_EXPLORE_H
#define MPVMM_EXPLORE_H

/* argv holds what follows "explore".  Exit status: 0 every seed passed, 1 some failed. */
int explore_main(int argc, char **argv);

#endif
