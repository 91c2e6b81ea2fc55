package engine

import (
	"strings"
	"unicode/utf8"

	"github.com/corral-ai/corral/inference/sample"
	"github.com/corral-ai/corral/inference/tokenizer"
)

// reply turns one request's generated tokens into what its stream shows:
// it decodes them into whole UTF-8 characters, cuts the text before the
// first stop string (the sampler's stop matcher), and with a filter
// releases the text only sentence by sentence, after the filter passed it,
// and the token ids only at the end.
type reply struct {
	out    *Stream
	dec    *tokenizer.StreamDecoder
	s      *sample.Sampler
	filter OutputFilter

	text     strings.Builder // the reply so far, after stop strings
	released int             // bytes of text given to out
	screened int             // bytes of text the filter passed
	scan     int             // where the search for a sentence end resumes
	held     []int32         // ids kept back while a filter is set

	stopString bool   // a stop string appeared
	blocked    bool   // the filter blocked the reply
	why        string // the filter's reason
}

func newReply(out *Stream, tok *tokenizer.Tokenizer, s *sample.Sampler, filter OutputFilter) *reply {
	// Continuation: the generated text follows the prompt, so
	// SentencePiece's leading space of the first token is kept.
	return &reply{out: out, dec: tok.NewStreamDecoder(tokenizer.DecodeOptions{Continuation: true}), s: s, filter: filter}
}

// add takes one generated token and reports whether the reply is over: a
// stop string appeared or the filter blocked it.
func (r *reply) add(id int32) bool {
	emit, stopped := r.s.Text(validUTF8(r.dec.Next(id)))
	r.text.WriteString(emit)
	r.stopString = stopped
	if r.filter != nil {
		r.held = append(r.held, id)
		r.screen()
		r.release(nil)
	} else {
		r.release([]int32{id})
	}
	return r.stopString || r.blocked
}

// close ends a reply that finished normally: the held-back bytes of an
// unfinished character and of a possible stop string are released, and
// the filter sees the whole reply once more. It returns the text and ids
// not yet given to the stream, for the final event, and whether the filter
// blocked the reply.
func (r *reply) close() (text string, ids []int32, blocked bool) {
	if !r.stopString && !r.blocked {
		emit, stopped := r.s.Text(validUTF8(r.dec.Flush()))
		r.text.WriteString(emit)
		if r.stopString = stopped; !stopped {
			r.text.WriteString(r.s.Flush())
		}
	}
	if r.filter != nil && !r.blocked {
		r.blocked, r.why = r.filter.Screen(r.text.String())
	}
	if r.blocked {
		return "", nil, true
	}
	ids, r.held = r.held, nil
	text = r.text.String()[r.released:]
	r.released = r.text.Len()
	return text, ids, false
}

// screen calls the filter at every sentence end found since the last call.
func (r *reply) screen() {
	text := r.text.String()
	for !r.blocked {
		end, next, ok := nextSentenceEnd(text, r.scan)
		r.scan = next
		if !ok {
			return
		}
		if end <= r.screened {
			continue // an empty sentence (a blank line)
		}
		if r.blocked, r.why = r.filter.Screen(text[:end]); !r.blocked {
			r.screened = end
		}
	}
}

// release gives the stream the text that may be shown now, and ids.
func (r *reply) release(ids []int32) {
	upTo := r.text.Len()
	if r.filter != nil {
		upTo = r.screened
	}
	var delta string
	if upTo > r.released {
		delta = r.text.String()[r.released:upTo]
		r.released = upTo
	}
	r.out.push(delta, ids)
}

// validUTF8 replaces bytes that can never form a character (the stream
// decoder passes them through) with U+FFFD, so every event is valid text.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
