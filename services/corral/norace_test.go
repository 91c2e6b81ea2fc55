//go:build !race

package main

// raceDetector is true in a -race build, where the demo model runs many
// times slower: the messaging tests then answer fewer conversations.
const raceDetector = false
