// Package kvcache is the engine's paged key/value cache and prefix cache.
//
// # Blocks and sequences
//
// One pool of fixed-size blocks (Config.BlockTokens tokens, 16 by default)
// holds the keys and values of every sequence, all layers of a token range
// in one block. The pool is sized once from a memory budget
// (Config.Budget, CORRAL_KV_MEMORY; DefaultBudget otherwise). A sequence
// is a block table: NewSeq opens one, Append reserves positions for tokens
// (adding blocks as positions cross block ends), Truncate drops positions
// from the end (preemption with recompute, rollback), Free closes it. Fork
// opens a sequence sharing all blocks of another; blocks carry reference
// counts, and a write into a shared partial last block copies it first
// (copy on write), in Append, before the forward pass. When the pool cannot
// supply the blocks an Append needs it returns an *OutOfBlocksError
// (errors.Is ErrOutOfBlocks) and changes nothing: the scheduler preempts a
// sequence and tries again, it never drops one.
//
// # Prefix cache
//
// A full, committed block is published in a prefix index under a hash
// chained over token ids: the hash of its parent block's hash and its own
// ids, so it stands for the whole prefix up to its end. Prefix starts a new
// sequence with every cached block of its prompt's prefix; the engine
// prefills only the rest. Every hash hit is checked against the block's
// parent identity and its ids, so a collision costs a miss, never wrong
// keys and values. A block that no sequence holds any more stays cached
// and reusable until it is evicted, least recently used first, to make
// room; later blocks of a chain are always evicted before earlier ones. Pin
// keeps a prefix (a persona's system prompt) from eviction until Unpin.
// Stats counts lookups, looked-up tokens and hit tokens for the hit-rate
// metric.
//
// Blocks enter the index when Commit says their rows are stored, never at
// Append, so a half-computed block is never shared. A committed block
// whose prefix is cached already (two conversations computed the same
// prompt at once) is swapped for the cached one and freed. Reuse is exact
// because the model is batch invariant: a block's keys and values have the
// same bits whichever batch computed them.
//
// One step of the engine with this cache:
//
//	id := c.NewSeq()
//	hit, _ := c.Prefix(id, prompt[:len(prompt)-1]) // the last token's logits are needed
//	err := c.Append(id, prompt[hit:]...)           // ErrOutOfBlocks: preempt, retry
//	// Forward over entries {Seq: id, Pos: hit..len(prompt)-1}, kv = c
//	c.Commit(id, len(prompt)) // rows stored: publish full blocks
//	// each decode step: Append(id, tok), Forward, Commit(id, Len(id))
//	c.Free(id)
//
// Warming a prefix runs the same steps on the whole prefix, then calls Pin
// before Free.
//
// # Memory
//
// A token costs 2 × Layers × KVHeads × HeadDim × element size (2 bytes for
// F16, 4 for F32) in the pool, plus its share of the bookkeeping allocated
// with it: per block a 40-byte record, the block's token ids (4 bytes a
// token), a free-stack slot and a prefix-index slot, about 130 bytes a
// block or 8 bytes a token at 16 tokens a block. Block tables of open
// sequences add 4 bytes per block held. New takes as many blocks as Budget
// pays for, bookkeeping included, so MemoryBytes never exceeds Budget. For
// stories260K at F16 (640 bytes a token of keys and values) the
// bookkeeping adds 1.3%; for llama-110m and larger under 0.1%. The tests
// measure the Go heap and check 5%.
//
// Go allocates the pool in New, but memory fresh from the system is only
// backed by pages as blocks are first written, so an idle cache with a
// large budget costs little resident memory. On Linux the pool asks for
// transparent huge pages (2 MB, taken as blocks are first written): a
// decode step's attention reads a 2 KB page of keys and one of values per
// block, layer and KV head, and on 4 KB pages nearly each read was a TLB
// miss.
//
// # Locking
//
// The bookkeeping methods (NewSeq, Prefix, Append, Commit, Fork, Truncate,
// Free, Pin, Unpin, Cached, Len, BlocksNeeded, Available, Stats) lock a
// mutex, so they may be called from several goroutines. Store, Load,
// LoadHead and LoadHeadHalf, the forward pass's methods, lock nothing, for
// speed; they read block tables and block records. Hence:
//
//   - NewSeq, Prefix, Append, Commit, Fork, Truncate and Free, which change
//     block tables or reuse blocks, must not run while a forward pass over
//     the cache runs. The engine calls them from its scheduler goroutine
//     between steps.
//   - Pin, Unpin, Cached, Len, BlocksNeeded, Available and Stats touch no
//     block table and no block a sequence holds, and may run at any time.
//   - Store may run concurrently with Store of other positions (the
//     model spreads a batch's stores over its threads); the loads with
//     each other. model.Forward stores a layer's rows before it loads
//     them, which is the one ordering needed.
//
// # Element types and the model
//
// Inside a block each layer keeps its keys, then its values, and each of
// those KV head after KV head, a head's rows for the block's tokens back
// to back: attention works one KV head at a time, and a page of one head
// is then one contiguous run (2 KiB for 16 tokens of 64 half floats)
// rather than a slice of every token's row.
//
// An F32 cache (CORRAL_KV_TYPE=f32) keeps the rows the model computes and
// implements model.HeadKV exactly: LoadHead returns a head's rows in
// place, up to the end of a block, and a model run through it gives the
// same bits as through model.Cache. An F16 cache rounds each value once,
// in Store, to the nearest half float, ties to even, as IEEE 754 and ggml
// do (the bits of kernels.F32ToF16, by a faster conversion of its own).
// LoadHeadHalf returns a head's half-float rows in place, and the model
// reads those with kernels.DotRowsHalf and WeightedSumHalf, which convert
// as they load and give the bits of the float32 routines over the
// converted rows. Load, which gathers (and converts) whole rows into new
// slices, is a slow fallback for other callers.
//
// Batch invariance holds because a value is rounded once, at Store,
// independently of the batch, and half to float32 conversion is exact:
// both attention paths (a prompt chunk's matrix product over a converted
// page, a decode token's DotRowsHalf) see the same float32 keys and
// values a position had when computed alone, and the kernels give the
// same bits from MatMul as from Dot.
package kvcache
