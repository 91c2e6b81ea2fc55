// Package sample turns a model's logits into the next token for one request.
//
// A Sampler is built from Options and owns its random source, its penalty
// window and its stop-string matcher, so requests never share state. The
// order of operations is fixed and documented on Options: logit bias,
// penalties, temperature, top-k, min-p, top-p, then a seeded draw. With
// Temperature 0 the draw is greedy: the first index of the largest logit.
//
// Candidate selection never sorts the whole vocabulary: top-k and top-p use
// partial selection (three-way quickselect), so their cost grows with the
// vocabulary linearly, not as n log n.
package sample
