package tokenizer

import "strings"

// StreamDecoder decodes token ids one at a time, for streaming generated
// text. A byte token or a byte-level BPE token may carry only part of a
// UTF-8 character; the decoder holds such bytes back until the character is
// complete, so it never emits half a character. Bytes that can never form a
// character (invalid UTF-8) are passed through unchanged, so the
// concatenation of everything Next and Flush return equals DecodeWith of
// all the ids with the same options.
//
// A StreamDecoder is not safe for concurrent use; use one per sequence.
type StreamDecoder struct {
	t     *Tokenizer
	o     DecodeOptions
	strip bool // SPM: the first non-empty piece still owes its leading space
	buf   []byte
}

// NewStreamDecoder returns a streaming decoder. For generated tokens that
// follow a prompt, set o.Continuation so SentencePiece's leading space of the
// first token is kept.
func (t *Tokenizer) NewStreamDecoder(o DecodeOptions) *StreamDecoder {
	return &StreamDecoder{t: t, o: o, strip: t.addSpacePrefix && !o.Continuation}
}

// Next adds one token and returns the text that is now complete (often "").
func (d *StreamDecoder) Next(id int32) string {
	p := d.t.piece(id, d.o.Special)
	if p == "" {
		return ""
	}
	if d.strip {
		p = strings.TrimPrefix(p, " ")
		d.strip = false
	}
	d.buf = append(d.buf, p...)
	k := len(d.buf) - incompleteTail(d.buf)
	if k == 0 {
		return ""
	}
	out := string(d.buf[:k])
	d.buf = append(d.buf[:0], d.buf[k:]...)
	return out
}

// Flush returns the bytes still held back (an incomplete character at the
// end of the stream) and empties the decoder.
func (d *StreamDecoder) Flush() string {
	out := string(d.buf)
	d.buf = d.buf[:0]
	return out
}

// incompleteTail returns how many bytes at the end of b are the beginning
// of a UTF-8 character that more bytes could still complete.
func incompleteTail(b []byte) int {
	// A character is at most 4 bytes, so only the last 3 can be pending.
	for k := 1; k <= 3 && k <= len(b); k++ {
		c := b[len(b)-k]
		if c&0xC0 == 0x80 {
			continue // continuation byte: keep looking for the lead
		}
		need := 0
		switch {
		case c >= 0xC2 && c <= 0xDF:
			need = 2
		case c >= 0xE0 && c <= 0xEF:
			need = 3
		case c >= 0xF0 && c <= 0xF4:
			need = 4
		}
		if need <= k || !validPrefix(b[len(b)-k:]) {
			return 0
		}
		return k
	}
	return 0
}

// validPrefix reports whether p (a lead byte and fewer continuation bytes
// than it needs) can still become a valid character: the second byte's
// range depends on the lead, which rules out overlong forms, surrogates and
// code points above U+10FFFF.
func validPrefix(p []byte) bool {
	if len(p) < 2 {
		return true
	}
	lo, hi := byte(0x80), byte(0xBF)
	switch p[0] {
	case 0xE0:
		lo = 0xA0
	case 0xED:
		hi = 0x9F
	case 0xF0:
		lo = 0x90
	case 0xF4:
		hi = 0x8F
	}
	if p[1] < lo || p[1] > hi {
		return false
	}
	for _, c := range p[2:] {
		if c&0xC0 != 0x80 {
			return false
		}
	}
	return true
}
