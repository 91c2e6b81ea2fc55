//go:build race

package kvcache_test

// raceEnabled says the race detector is on; the model's worker pool spins
// very slowly under it.
const raceEnabled = true
