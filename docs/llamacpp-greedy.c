// llamacpp-greedy: llama.cpp's greedy token ids for a GGUF file, for comparing
// with `corral generate --ids --temp 0` (README, "Files from other tools").
//
//   cc -O2 -o llamacpp-greedy docs/llamacpp-greedy.c -I$LLAMA/include -I$LLAMA/ggml/include
//      -L$LLAMA/build/bin -lllama -lggml -lggml-base -Wl,-rpath,$LLAMA/build/bin   (one line)
//   llamacpp-greedy MODEL N PROMPT_IDS [OTHER_IDS]
//
// Feeds PROMPT_IDS (comma-separated, used as given: no BOS added) one token
// per llama_decode, then prints N ids, each the first index of the largest
// logit and the next input; one thread, F32 KV cache, as the ids recorded in
// inference/model/testdata were measured. With OTHER_IDS (another engine's
// ids), those are fed instead and stderr tells, for each position, the
// margin of llama.cpp's choice, or its logit gap to the other id where they
// differ: a near-tie says the two engines part by rounding.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama.h"

static void quiet(enum ggml_log_level level, const char *text, void *user) {
	(void)user;
	if (level >= GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

static int parse_ids(char *s, llama_token *out, int max) {
	int n = 0;
	for (char *t = strtok(s, ", "); t && n < max; t = strtok(NULL, ", ")) out[n++] = atoi(t);
	return n;
}

static int decode(struct llama_context *ctx, llama_token tok) {
	if (llama_decode(ctx, llama_batch_get_one(&tok, 1))) {
		fprintf(stderr, "llama_decode failed\n");
		return 1;
	}
	return 0;
}

int main(int argc, char **argv) {
	static llama_token prompt[8192], other[8192];
	if (argc < 4) {
		fprintf(stderr, "usage: %s MODEL N PROMPT_IDS [OTHER_IDS]\n", argv[0]);
		return 2;
	}
	llama_log_set(quiet, NULL);
	llama_backend_init();
	struct llama_model *model = llama_model_load_from_file(argv[1], llama_model_default_params());
	if (!model) {
		fprintf(stderr, "cannot load %s\n", argv[1]);
		return 1;
	}
	int n = atoi(argv[2]);
	int np = parse_ids(argv[3], prompt, 8192);
	int no = argc > 4 ? parse_ids(argv[4], other, 8192) : 0;
	struct llama_context_params cp = llama_context_default_params();
	cp.n_ctx = cp.n_batch = cp.n_ubatch = np + n + 8;
	cp.n_threads = cp.n_threads_batch = 1;
	cp.type_k = cp.type_v = GGML_TYPE_F32;
	struct llama_context *ctx = llama_init_from_model(model, cp);
	if (!ctx || np == 0) {
		fprintf(stderr, "no context or no prompt\n");
		return 1;
	}
	int vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
	for (int i = 0; i < np; i++)
		if (decode(ctx, prompt[i])) return 1;
	for (int i = 0; i < n; i++) {
		const float *logits = llama_get_logits_ith(ctx, -1);
		int best = 0, second = -1;
		for (int j = 1; j < vocab; j++)
			if (logits[j] > logits[best]) best = j;
		for (int j = 0; j < vocab; j++)
			if (j != best && (second < 0 || logits[j] > logits[second])) second = j;
		printf(i ? " %d" : "%d", best);
		llama_token next = best;
		if (i < no) {
			if (other[i] != best)
				fprintf(stderr, "position %d: llama.cpp %d, other %d, logit gap %.6f\n", i, best, other[i], logits[best] - logits[other[i]]);
			else
				fprintf(stderr, "position %d: %d, margin %.6f\n", i, best, logits[best] - logits[second]);
			next = other[i];
		}
		if (i + 1 < n && decode(ctx, next)) return 1;
	}
	printf("\n");
	llama_free(ctx);
	llama_model_free(model);
	return 0;
}
