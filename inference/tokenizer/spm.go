package tokenizer

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

// spaceMarker is U+2581, which SentencePiece writes for a space.
const spaceMarker = "\u2581"

// spmModel is the SentencePiece-style tokenizer of Llama 2: start from single
// UTF-8 characters and repeatedly merge the adjacent pair whose union is the
// vocabulary piece with the highest score (leftmost on ties). Characters that
// end up as no piece are written as byte tokens <0xNN>.
type spmModel struct {
	// pieces holds the tokens a merge may produce: normal, user-defined and
	// unused ones. Control, unknown and byte tokens are never formed from
	// text, as in SentencePiece.
	pieces    map[string]int32
	scores    []float32
	types     []TokenType
	byteToken [256]int32
	hasUnused bool
	// splitWords is set when no piece has a space marker after another
	// character. Then no merge can cross the start of a space-prefixed
	// word, so words are tokenised one at a time (and cached) with the same
	// result as the whole text at once.
	splitWords bool
	cache      wordCache
	scratch    sync.Pool // *spmState
}

type spmSymbol struct {
	start, n   int32 // byte range in the escaped text; n == 0 once merged away
	prev, next int32 // neighbours in the live chain, -1 at the ends
}

type spmBigram struct {
	left, right int32
	score       float32
	size        int32
}

// before orders bigrams: higher score first, then the leftmost.
func (a spmBigram) before(b spmBigram) bool {
	return a.score > b.score || (a.score == b.score && a.left < b.left)
}

type spmState struct {
	syms  []spmSymbol
	queue pqueue[spmBigram]
	// revMerge maps a merged unused piece to the length of its left part,
	// so it can be split again (SentencePiece's resegmentation).
	revMerge map[string]int
}

func newSPM(t *Tokenizer, scores []float32) (*spmModel, error) {
	m := &spmModel{
		pieces: make(map[string]int32, len(t.tokens)),
		scores: make([]float32, len(t.tokens)),
		types:  t.types,
	}
	copy(m.scores, scores)
	for i, s := range t.tokens {
		switch t.types[i] {
		case TypeNormal, TypeUserDefined:
		case TypeUnused:
			m.hasUnused = true
		default:
			continue
		}
		if s != "" {
			m.pieces[s] = int32(i)
		}
	}
	m.splitWords = true
	for s := range m.pieces {
		if strings.Contains(strings.TrimLeft(s, spaceMarker), spaceMarker) {
			m.splitWords = false
			break
		}
	}
	m.cache.m = make(map[string][]int32)
	// Byte fallback: <0xNN>, else the one-byte token, else UNK.
	for b := range 256 {
		id, ok := t.ids[fmt.Sprintf("<0x%02X>", b)]
		if !ok {
			id, ok = t.ids[string([]byte{byte(b)})]
		}
		if !ok {
			if t.unk == NoToken {
				return nil, fmt.Errorf("%w: no token for byte 0x%02X and no unknown token", ErrInvalidVocab, b)
			}
			id = t.unk
		}
		m.byteToken[b] = id
	}
	m.scratch.New = func() any { return new(spmState) }
	return m, nil
}

// symbolLen is the length of the character at the start of s. Bytes that
// are not part of valid UTF-8 are one symbol each (llama.cpp goes by the
// lead byte alone, which can swallow the next character; for valid text the
// two agree), so they become byte tokens and decode to themselves.
func symbolLen(s string) int32 {
	if s[0] < utf8.RuneSelf {
		return 1
	}
	_, n := utf8.DecodeRuneInString(s)
	return int32(n)
}

// encode appends the tokens of text (which holds no special tokens).
func (m *spmModel) encode(out []int32, text string, spacePrefix bool) []int32 {
	if text == "" {
		return out
	}
	if spacePrefix {
		text = " " + text
	}
	text = strings.ReplaceAll(text, " ", spaceMarker)
	if !m.splitWords {
		return m.encodeWord(out, text)
	}
	// A word starts at a space marker that follows another character.
	start := 0
	for i := 1; i < len(text); {
		k := strings.Index(text[i:], spaceMarker)
		if k < 0 {
			break
		}
		i += k
		if !strings.HasSuffix(text[:i], spaceMarker) {
			out = m.encodeCached(out, text[start:i])
			start = i
		}
		i += len(spaceMarker)
	}
	return m.encodeCached(out, text[start:])
}

func (m *spmModel) encodeCached(out []int32, w string) []int32 {
	if ids, ok := m.cache.get(w); ok {
		return append(out, ids...)
	}
	start := len(out)
	out = m.encodeWord(out, w)
	m.cache.put(w, out[start:])
	return out
}

// encodeWord runs the merge loop over text (already escaped).
func (m *spmModel) encodeWord(out []int32, text string) []int32 {
	st := m.scratch.Get().(*spmState)
	defer m.release(st)
	syms := st.syms[:0]
	for off := int32(0); off < int32(len(text)); {
		n := symbolLen(text[off:])
		syms = append(syms, spmSymbol{start: off, n: n, prev: int32(len(syms)) - 1, next: int32(len(syms)) + 1})
		off += n
	}
	syms[len(syms)-1].next = -1
	st.syms = syms
	st.queue = st.queue[:0]
	if m.hasUnused {
		st.revMerge = make(map[string]int)
	}

	for i := int32(1); i < int32(len(syms)); i++ {
		m.tryBigram(st, text, i-1, i)
	}
	for len(st.queue) > 0 {
		bg := st.queue.pop()
		l, r := &syms[bg.left], &syms[bg.right]
		// Skip pairs whose symbols changed since the bigram was queued.
		if l.n == 0 || r.n == 0 || l.n+r.n != bg.size {
			continue
		}
		l.n += r.n
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = bg.left
		}
		m.tryBigram(st, text, l.prev, bg.left)
		m.tryBigram(st, text, bg.left, l.next)
	}
	for i := int32(0); i != -1; i = syms[i].next {
		s := syms[i]
		out = m.resegment(out, st, text[s.start:s.start+s.n])
	}
	return out
}

// maxPooledSymbols bounds the scratch kept between calls, so one huge text
// does not pin its buffers.
const maxPooledSymbols = 1 << 16

func (m *spmModel) release(st *spmState) {
	if cap(st.syms) <= maxPooledSymbols {
		st.revMerge = nil
		m.scratch.Put(st)
	}
}

// tryBigram queues the merge of two neighbouring symbols when their union is
// a piece.
func (m *spmModel) tryBigram(st *spmState, text string, left, right int32) {
	if left < 0 || right < 0 {
		return
	}
	l, r := st.syms[left], st.syms[right]
	s := text[l.start : l.start+l.n+r.n]
	id, ok := m.pieces[s]
	if !ok {
		return
	}
	st.queue.push(spmBigram{left: left, right: right, score: m.scores[id], size: l.n + r.n})
	if m.types[id] == TypeUnused {
		st.revMerge[s] = int(l.n)
	}
}

// resegment appends the tokens for one final symbol: its piece, the pieces
// it was merged from when it is an unused piece, or its bytes.
func (m *spmModel) resegment(out []int32, st *spmState, s string) []int32 {
	if id, ok := m.pieces[s]; ok {
		if m.types[id] != TypeUnused {
			return append(out, id)
		}
		if k, ok := st.revMerge[s]; ok {
			out = m.resegment(out, st, s[:k])
			return m.resegment(out, st, s[k:])
		}
	}
	for i := 0; i < len(s); i++ {
		out = append(out, m.byteToken[s[i]])
	}
	return out
}
