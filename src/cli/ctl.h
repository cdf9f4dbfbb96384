/*
 * ctl.h - `mpvmm ctl SOCKET COMMAND [ARGS]`: the client of the control API (api/api.h).
 * Speaks HTTP over the UNIX socket with libcurl and prints what the VM answers as tables,
 * or as the server's JSON with --json.  Knows the API's routes and JSON, nothing of the VM.
 *
 * Exit status: 0 done, 1 the VM answered with an error, 2 usage error, 3 cannot connect.
 */
#ifndef MPVMM_CTL_H
#define MPVMM_CTL_H

#define CTL_EXIT_API_ERROR 1
#define CTL_EXIT_USAGE 2
#define CTL_EXIT_CONNECT 3

/* argv[0] is the socket path (the word "ctl" is not included). */
int ctl_main(int argc, char **argv);

#endif
