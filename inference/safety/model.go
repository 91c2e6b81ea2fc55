package safety

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Model is the learned classifier: a logistic model over hashed features
// that gives the probability that a text is unsafe, and a softmax model
// over the same features (a smaller table) that gives the category of an
// unsafe text. Weights are stored as int8 with one scale per table.
type Model struct {
	binBits, catBits uint8
	binScale         float32
	catScale         float32
	binBias          float32
	catBias          [numClasses]float32
	bin              []int8 // 1<<binBits
	cat              []int8 // (1<<catBits) rows of numClasses
}

const (
	weightsMagic   = "CORRALSAFETY"
	weightsVersion = 1
)

// binIndex and catIndex take different bits of a feature hash, so the two
// tables collide on different features.
func (m *Model) binIndex(h uint32) uint32 { return h >> (32 - m.binBits) }
func (m *Model) catIndex(h uint32) uint32 { return h & (1<<m.catBits - 1) }

// score returns the probability that the text with features feats is
// unsafe and the probability of each category given that it is.
func (m *Model) score(feats []uint32) (unsafe float64, cats [numClasses]float64) {
	v := featureValue(len(feats))
	var zb int32
	var zc [numClasses]int32
	for _, h := range feats {
		zb += int32(m.bin[m.binIndex(h)])
		row := m.cat[int(m.catIndex(h))*numClasses:][:numClasses]
		for c, w := range row {
			zc[c] += int32(w)
		}
	}
	unsafe = sigmoid(float64(m.binBias) + v*float64(m.binScale)*float64(zb))
	var logits [numClasses]float64
	hi := math.Inf(-1)
	for c := range logits {
		logits[c] = float64(m.catBias[c]) + v*float64(m.catScale)*float64(zc[c])
		hi = max(hi, logits[c])
	}
	var sum float64
	for c := range logits {
		cats[c] = math.Exp(logits[c] - hi)
		sum += cats[c]
	}
	for c := range cats {
		cats[c] /= sum
	}
	return unsafe, cats
}

// contribution returns how much feature h pushes the unsafe logit.
func (m *Model) contribution(h uint32) float64 {
	return float64(m.binScale) * float64(m.bin[m.binIndex(h)])
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

// MarshalBinary encodes the model as the weights file (gzip-compressed).
func (m *Model) MarshalBinary() ([]byte, error) {
	var raw bytes.Buffer
	raw.WriteString(weightsMagic)
	raw.Write([]byte{weightsVersion, m.binBits, m.catBits, numClasses})
	for _, f := range append([]float32{m.binScale, m.catScale, m.binBias}, m.catBias[:]...) {
		_ = binary.Write(&raw, binary.LittleEndian, math.Float32bits(f))
	}
	for _, w := range m.bin {
		raw.WriteByte(byte(w))
	}
	for _, w := range m.cat {
		raw.WriteByte(byte(w))
	}
	var out bytes.Buffer
	zw, err := gzip.NewWriterLevel(&out, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// maxTableBits bounds the tables a weights file may declare (32 MB).
const maxTableBits = 24

// UnmarshalModel decodes a weights file written by MarshalBinary.
func UnmarshalModel(data []byte) (*Model, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadWeights, err)
	}
	head := make([]byte, len(weightsMagic)+4+4*(3+numClasses))
	if _, err := io.ReadFull(zr, head); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrBadWeights, err)
	}
	if string(head[:len(weightsMagic)]) != weightsMagic {
		return nil, fmt.Errorf("%w: not a safety weights file", ErrBadWeights)
	}
	p := head[len(weightsMagic):]
	if p[0] != weightsVersion || p[3] != numClasses {
		return nil, fmt.Errorf("%w: version %d with %d classes, want version %d with %d", ErrBadWeights, p[0], p[3], weightsVersion, numClasses)
	}
	m := &Model{binBits: p[1], catBits: p[2]}
	if m.binBits < 8 || m.binBits > maxTableBits || m.catBits < 4 || m.catBits > maxTableBits-4 {
		return nil, fmt.Errorf("%w: table sizes 2^%d and 2^%d out of range", ErrBadWeights, m.binBits, m.catBits)
	}
	f := func(i int) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(p[4+4*i:])) }
	m.binScale, m.catScale, m.binBias = f(0), f(1), f(2)
	for c := range m.catBias {
		m.catBias[c] = f(3 + c)
	}
	for _, x := range append([]float32{m.binScale, m.catScale, m.binBias}, m.catBias[:]...) {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("%w: non-finite scale or bias", ErrBadWeights)
		}
	}
	body := make([]byte, 1<<m.binBits+(1<<m.catBits)*numClasses)
	if _, err := io.ReadFull(zr, body); err != nil {
		return nil, fmt.Errorf("%w: tables: %w", ErrBadWeights, err)
	}
	if n, _ := zr.Read(make([]byte, 1)); n != 0 {
		return nil, fmt.Errorf("%w: trailing data", ErrBadWeights)
	}
	m.bin = bytesToInt8(body[:1<<m.binBits])
	m.cat = bytesToInt8(body[1<<m.binBits:])
	return m, nil
}

func bytesToInt8(b []byte) []int8 {
	out := make([]int8, len(b))
	for i, x := range b {
		out[i] = int8(x)
	}
	return out
}
