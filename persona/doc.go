// Package persona holds Corral's AI personas: the model a creator edits
// (Edit, Spec), its validation (Validate names each bad field with a reason
// a person can act on), the life of a persona (Persona: a draft that
// Publish freezes into immutable, numbered Versions; Rollback republishes
// an old one), the built-in default persona, the mapping to the protobuf
// contract, and prompt assembly: a version and a conversation's history
// become chat messages under a token budget, with the persona's part a
// stable prefix the inference engine's prefix cache can reuse.
//
// The package is pure: no I/O, no clocks (times are passed in), and it
// imports nothing of Corral's but proto. Storage lives in persona/store.
package persona
