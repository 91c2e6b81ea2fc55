package tokenizer

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// byteLevel is GPT-2's reversible byte ↔ character mapping: printable
// Latin-1 bytes stand for themselves and the other 68 bytes (controls,
// space, DEL, NBSP, soft hyphen) are moved to U+0100 onwards, in byte order.
// Byte-level BPE vocabularies are written in these characters ("Ġ" is the
// space byte).
var byteLevel = newByteLevelTable()

type byteLevelTable struct {
	toRune [256]rune
	toByte [324]int16 // -1 where the rune is not in the alphabet
}

func newByteLevelTable() *byteLevelTable {
	var t byteLevelTable
	for i := range t.toByte {
		t.toByte[i] = -1
	}
	next := rune(256)
	for b := range 256 {
		r := rune(b)
		printable := (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
		if !printable {
			r = next
			next++
		}
		t.toRune[b] = r
		t.toByte[r] = int16(b)
	}
	return &t
}

// bytesFromByteLevel decodes a byte-level token text into the bytes it
// stands for. Characters outside the alphabet are kept as they are.
func bytesFromByteLevel(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r >= 0 && int(r) < len(byteLevel.toByte) && byteLevel.toByte[r] >= 0 {
			b = append(b, byte(byteLevel.toByte[r]))
			continue
		}
		b = utf8.AppendRune(b, r)
	}
	return string(b)
}

// bpeModel is byte-level BPE as used by Llama 3: split the text into words
// with the pre-tokenizer, write each word's bytes as byte tokens and merge
// the adjacent pair with the lowest merge rank (leftmost on ties) until no
// listed merge applies.
type bpeModel struct {
	// merges maps a pair of token ids (left<<32 | right) to its rank and
	// result.
	merges    map[uint64]bpeMerge
	byteToken [256]int32
	// words maps the bytes of every normal token to its id: with
	// ignoreMerges a word that is itself a token is emitted whole.
	words        map[string]int32
	ignoreMerges bool
	// next returns the end of the pre-tokenizer word that starts at i.
	next    func(s string, i int) int
	cache   wordCache
	scratch sync.Pool // *bpeState
}

type bpeMerge struct {
	rank, id int32
}

type bpeSymbol struct {
	id         int32 // -1 once merged into its left neighbour
	prev, next int32
}

type bpeBigram struct {
	rank, left, right int32
}

// before orders candidate merges: lowest rank first, then the leftmost.
func (a bpeBigram) before(b bpeBigram) bool {
	return a.rank < b.rank || (a.rank == b.rank && a.left < b.left)
}

type bpeState struct {
	syms  []bpeSymbol
	queue pqueue[bpeBigram]
}

func pairKey(left, right int32) uint64 { return uint64(uint32(left))<<32 | uint64(uint32(right)) }

func newBPE(t *Tokenizer, pre string, merges []string) (*bpeModel, error) {
	m := &bpeModel{
		merges: make(map[uint64]bpeMerge, len(merges)),
		words:  make(map[string]int32, len(t.tokens)),
	}
	switch pre {
	case PreLlama3:
		m.next = nextLlama3
		m.ignoreMerges = true
	default:
		return nil, fmt.Errorf("%w: BPE pre-tokenizer %q (supported: %q)", ErrUnsupported, pre, PreLlama3)
	}
	for b := range 256 {
		id, ok := t.ids[string(byteLevel.toRune[b])]
		if !ok {
			return nil, fmt.Errorf("%w: no byte-level token for byte 0x%02X", ErrInvalidVocab, b)
		}
		m.byteToken[b] = id
	}
	for i, s := range t.tokens {
		if t.types[i] == TypeNormal {
			m.words[bytesFromByteLevel(s)] = int32(i)
		}
	}
	for rank, s := range merges {
		sp := strings.IndexByte(s[min(1, len(s)):], ' ') + 1
		if sp <= 0 {
			return nil, fmt.Errorf("%w: merge %d %q has no space", ErrInvalidVocab, rank, s)
		}
		left, lok := t.ids[s[:sp]]
		right, rok := t.ids[s[sp+1:]]
		result, ok := t.ids[s[:sp]+s[sp+1:]]
		if !lok || !rok || !ok {
			continue // a merge whose parts or result are not tokens can never apply
		}
		k := pairKey(left, right)
		if _, dup := m.merges[k]; !dup {
			m.merges[k] = bpeMerge{rank: int32(rank), id: result}
		}
	}
	m.cache.m = make(map[string][]int32)
	m.scratch.New = func() any { return new(bpeState) }
	return m, nil
}

// encode appends the tokens of text (which holds no special tokens).
func (m *bpeModel) encode(out []int32, text string) []int32 {
	for i := 0; i < len(text); {
		j := m.next(text, i)
		w := text[i:j]
		i = j
		if ids, ok := m.cache.get(w); ok {
			out = append(out, ids...)
			continue
		}
		start := len(out)
		out = m.encodeWord(out, w)
		m.cache.put(w, out[start:])
	}
	return out
}

// encodeWord appends the tokens of one pre-tokenizer word.
func (m *bpeModel) encodeWord(out []int32, w string) []int32 {
	if m.ignoreMerges {
		if id, ok := m.words[w]; ok {
			return append(out, id)
		}
	}
	if len(w) == 1 {
		return append(out, m.byteToken[w[0]])
	}
	st := m.scratch.Get().(*bpeState)
	defer m.release(st)
	syms := st.syms[:0]
	for i := 0; i < len(w); i++ {
		syms = append(syms, bpeSymbol{id: m.byteToken[w[i]], prev: int32(i) - 1, next: int32(i) + 1})
	}
	syms[len(syms)-1].next = -1
	st.syms = syms
	st.queue = st.queue[:0]
	for i := int32(1); i < int32(len(syms)); i++ {
		m.tryMerge(st, i-1, i)
	}
	for len(st.queue) > 0 {
		bg := st.queue.pop()
		l, r := &syms[bg.left], &syms[bg.right]
		// Skip candidates whose symbols changed since they were queued.
		if l.id < 0 || r.id < 0 || l.next != bg.right {
			continue
		}
		mg, ok := m.merges[pairKey(l.id, r.id)]
		if !ok || mg.rank != bg.rank {
			continue
		}
		l.id = mg.id
		r.id = -1
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = bg.left
		}
		m.tryMerge(st, l.prev, bg.left)
		m.tryMerge(st, bg.left, l.next)
	}
	for i := int32(0); i != -1; i = syms[i].next {
		out = append(out, syms[i].id)
	}
	return out
}

func (m *bpeModel) tryMerge(st *bpeState, left, right int32) {
	if left < 0 || right < 0 {
		return
	}
	if mg, ok := m.merges[pairKey(st.syms[left].id, st.syms[right].id)]; ok {
		st.queue.push(bpeBigram{rank: mg.rank, left: left, right: right})
	}
}

func (m *bpeModel) release(st *bpeState) {
	if cap(st.syms) <= maxPooledSymbols {
		m.scratch.Put(st)
	}
}

// wordCache remembers the tokens of recently seen words; natural text
// repeats its words, and a map lookup is far cheaper than the merge loop.
type wordCache struct {
	mu sync.RWMutex
	m  map[string][]int32
}

const (
	maxCacheEntries  = 1 << 16
	maxCachedWordLen = 128
)

func (c *wordCache) get(w string) ([]int32, bool) {
	c.mu.RLock()
	ids, ok := c.m[w]
	c.mu.RUnlock()
	return ids, ok
}

func (c *wordCache) put(w string, ids []int32) {
	if len(w) > maxCachedWordLen {
		return
	}
	c.mu.Lock()
	if len(c.m) >= maxCacheEntries {
		clear(c.m) // crude but bounded; the working set refills it quickly
	}
	c.m[strings.Clone(w)] = slices.Clone(ids)
	c.mu.Unlock()
}
