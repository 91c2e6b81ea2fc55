package llama2c

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/corral-ai/corral/inference/tokenizer"
)

// maxPieceLen bounds one token's length in a tokenizer.bin.
const maxPieceLen = 1 << 16

// Standard ids of llama2.c (and Llama 2) vocabularies.
const (
	unkID = 0
	bosID = 1
	eosID = 2
)

// newVocab returns a SentencePiece vocabulary of n empty tokens with Llama
// 2's special ids and settings (BOS added, space prefix), as llama2.c's
// run.c encodes.
func newVocab(n int) tokenizer.Vocab {
	return tokenizer.Vocab{
		Model:  tokenizer.ModelSPM,
		Tokens: make([]string, n), Scores: make([]float32, n), Types: make([]tokenizer.TokenType, n),
		BOS: bosID, EOS: eosID, UNK: unkID, EOT: tokenizer.NoToken, PAD: tokenizer.NoToken,
		AddBOS: true, AddSpacePrefix: true,
	}
}

// ReadTokenizer reads a llama2.c tokenizer.bin holding exactly n tokens:
// int32 max_token_length, then per token float32 score, int32 length and
// the bytes. llama2.c exports pieces with plain spaces and wraps BOS/EOS in
// newlines; this maps them back to SentencePiece's form (U+2581, "<s>",
// "</s>", "<unk>") and types byte tokens "<0xNN>" as BYTE, as llama.cpp's
// own llama2.c converter does.
func ReadTokenizer(r io.Reader, n int) (tokenizer.Vocab, error) {
	br := bufio.NewReader(r)
	var maxLen int32
	if err := binary.Read(br, binary.LittleEndian, &maxLen); err != nil {
		return tokenizer.Vocab{}, fmt.Errorf("%w: max_token_length: %v", ErrTokenizer, err)
	}
	if maxLen <= 0 || maxLen > maxPieceLen {
		return tokenizer.Vocab{}, fmt.Errorf("%w: max_token_length is %d, want 1..%d", ErrTokenizer, maxLen, maxPieceLen)
	}
	v := newVocab(n)
	var rec [8]byte
	for id := range n {
		if _, err := io.ReadFull(br, rec[:]); err != nil {
			return tokenizer.Vocab{}, fmt.Errorf("%w: token %d of %d: %v", ErrTokenizer, id, n, eofAsTruncated(err))
		}
		score := math.Float32frombits(binary.LittleEndian.Uint32(rec[:4]))
		size := int32(binary.LittleEndian.Uint32(rec[4:]))
		if size < 0 || size > maxLen {
			return tokenizer.Vocab{}, fmt.Errorf("%w: token %d has length %d, want 0..%d (max_token_length)", ErrTokenizer, id, size, maxLen)
		}
		piece := make([]byte, size)
		if _, err := io.ReadFull(br, piece); err != nil {
			return tokenizer.Vocab{}, fmt.Errorf("%w: token %d text: %v", ErrTokenizer, id, eofAsTruncated(err))
		}
		v.Tokens[id], v.Types[id] = pieceAndType(id, string(piece))
		v.Scores[id] = score
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return tokenizer.Vocab{}, fmt.Errorf("%w: data after the %d tokens the model's vocab_size calls for", ErrTokenizer, n)
	}
	return v, nil
}

func eofAsTruncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("file ends early")
	}
	return err
}

// pieceAndType maps a llama2.c piece to its GGUF text and token type.
func pieceAndType(id int, s string) (string, tokenizer.TokenType) {
	switch {
	case id == unkID:
		return "<unk>", tokenizer.TypeUnknown
	case id == bosID:
		return "<s>", tokenizer.TypeControl
	case id == eosID:
		return "</s>", tokenizer.TypeControl
	case s == "":
		return s, tokenizer.TypeControl
	case isByteToken(s):
		return s, tokenizer.TypeByte
	}
	return strings.ReplaceAll(s, " ", "\u2581"), tokenizer.TypeNormal
}

// isByteToken reports whether s is "<0xNN>" with two hex digits.
func isByteToken(s string) bool {
	if len(s) != 6 || !strings.HasPrefix(s, "<0x") || s[5] != '>' {
		return false
	}
	_, err := strconv.ParseUint(s[3:5], 16, 8)
	return err == nil
}

// PlaceholderVocab returns a vocabulary of n tokens for a checkpoint that
// comes without its tokenizer: "<unk>", "<s>", "</s>", the 256 byte tokens
// "<0x00>".."<0xFF>" (ids 3..258, typed BYTE, the Llama 2 layout), then
// "<tok_N>". The ids and special tokens are right; the text of ids from 259
// on is not the model's.
func PlaceholderVocab(n int) tokenizer.Vocab {
	v := newVocab(n)
	for id := range n {
		switch {
		case id == unkID:
			v.Tokens[id], v.Types[id] = "<unk>", tokenizer.TypeUnknown
		case id == bosID:
			v.Tokens[id], v.Types[id] = "<s>", tokenizer.TypeControl
		case id == eosID:
			v.Tokens[id], v.Types[id] = "</s>", tokenizer.TypeControl
		case id < 3+256:
			v.Tokens[id], v.Types[id] = fmt.Sprintf("<0x%02X>", id-3), tokenizer.TypeByte
		default:
			v.Tokens[id], v.Types[id] = "<tok_"+strconv.Itoa(id)+">", tokenizer.TypeNormal
		}
	}
	return v
}
