/*
 * fuzz_api.c - the control API's request handling under libFuzzer: one input is a request
 * line "METHOD PATH[?format=NAME]\n" followed by the body, handed to the route handler (the
 * part of the server that reads what a client sends) over a VM without a CPU (array_vm).
 *
 * Built with clang: `-fsanitize=fuzzer`, run as `fuzz_api fuzz/corpus/api`.  With another
 * compiler (FUZZ_REPLAY_MAIN), a plain main replays the files and directories it is given,
 * so the seed corpus runs as a regression test everywhere.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/routes.h"
#include "../tests/unit/array_vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct array_vm *vm;

/* Split "METHOD PATH?format=X\n" off the input; the rest is the body. */
static void run_one(const char *in, size_t size)
{
	const char *nl = memchr(in, '\n', size);
	size_t line = nl ? (size_t)(nl - in) : size;
	char *head = strndup(in, line);
	if (!head)
		return;
	char *path = strchr(head, ' ');
	if (path)
		*path++ = 0;
	char *query = path ? strchr(path, '?') : NULL;
	if (query)
		*query++ = 0;
	const char *format = query && !strncmp(query, "format=", 7) ? query + 7 : NULL;
	struct api_request req = {
		.method = head, .path = path ? path : "", .format = format,
		.body = nl ? nl + 1 : NULL, .body_len = nl ? size - line - 1 : 0,
	};
	struct api_response resp;
	api_route(&vm->ops, &req, &resp);
	if (resp.status < 200 || resp.status > 599 || (!resp.body && resp.status != 500))
		abort();
	api_response_free(&resp);
	free(head);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!vm)
		vm = array_vm_create(4, 0);
	vm->state = "running"; /* every input starts from a running VM, even after a shutdown */
	run_one((const char *)data, size);
	return 0;
}

#ifdef FUZZ_REPLAY_MAIN
#include "replay.h"

int main(int argc, char **argv)
{
	int r = fuzz_replay_main(argc, argv, "fuzz_api");

	array_vm_destroy(vm);
	return r;
}
#endif
