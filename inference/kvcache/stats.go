package kvcache

// Stats is a snapshot of the cache for metrics and logs. Block counts are
// gauges; Lookups and the figures after it count from New.
type Stats struct {
	// Blocks is the pool size, BlockTokens tokens each.
	Blocks, BlockTokens int
	// Used is the blocks some sequence holds.
	Used int
	// Cached is the blocks no sequence holds but the prefix cache keeps:
	// Evictable of them may be taken for new tokens (least recently used
	// first), the rest are pinned.
	Cached, Evictable int
	// Pinned is the blocks some Pin holds, used by a sequence or not.
	Pinned int
	// Free is the blocks holding nothing.
	Free int
	// Sequences is the open sequences.
	Sequences int
	// Lookups is the Prefix calls, LookupTokens the tokens they were
	// given and HitTokens the tokens they reused: the prefix cache's hit
	// rate is HitTokens/LookupTokens.
	Lookups, LookupTokens, HitTokens uint64
	// Evictions is the cached blocks taken for new tokens.
	Evictions uint64
	// Copies is the shared blocks copied before a write (copy on write).
	Copies uint64
	// OutOfBlocks is the Appends refused for lack of blocks.
	OutOfBlocks uint64
}

// Stats returns a snapshot of the cache's figures.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{
		Blocks:       c.blocks,
		BlockTokens:  c.blockTokens,
		Used:         c.used,
		Cached:       c.blocks - c.used - len(c.free),
		Evictable:    c.lruLen,
		Pinned:       c.pinned,
		Free:         len(c.free),
		Sequences:    c.open,
		Lookups:      c.stats.lookups,
		LookupTokens: c.stats.lookupTokens,
		HitTokens:    c.stats.hitTokens,
		Evictions:    c.stats.evictions,
		Copies:       c.stats.copies,
		OutOfBlocks:  c.stats.refused,
	}
}
