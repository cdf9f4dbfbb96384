/*
 * replay.h - the plain main of a fuzz harness built without libFuzzer (FUZZ_REPLAY_MAIN):
 * feed LLVMFuzzerTestOneInput every file given, and every file in every directory given
 * (the seed corpora), so CI replays them with any compiler.  Include it once, after the
 * harness's LLVMFuzzerTestOneInput.
 */
#ifndef MPVMM_FUZZ_REPLAY_H
#define MPVMM_FUZZ_REPLAY_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0;

	if (!f) {
		perror(path);
		return -1;
	}
	FILE *sink = open_memstream(&buf, &len);
	char chunk[4096];
	size_t n;
	while (sink && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, sink);
	fclose(f);
	if (!sink || fclose(sink) != 0)
		return -1;
	LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
	free(buf);
	return 0;
}

static int fuzz_replay(const char *path, unsigned *count)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int r = 0;

	if (!d) {
		(*count)++;
		return fuzz_replay_file(path);
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char sub[4096];
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		r |= fuzz_replay(sub, count);
	}
	closedir(d);
	return r;
}

/* Replay argv[1..]; 0 if every input ran and there was at least one. */
static int fuzz_replay_main(int argc, char **argv, const char *name)
{
	unsigned count = 0;
	int r = 0;

	for (int i = 1; i < argc; i++)
		r |= fuzz_replay(argv[i], &count);
	printf("%s: replayed %u inputs\n", name, count);
	return r ? 1 : count ? 0 : 1;
}

#endif
