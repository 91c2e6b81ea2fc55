package gguf_test

import (
	"encoding/binary"
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/corral-ai/corral/inference/gguf"
)

// raw builds GGUF bytes field by field, so tests can write what the Writer
// never would.
type raw []byte

func (r raw) u32(x uint32) raw { return binary.LittleEndian.AppendUint32(r, x) }
func (r raw) u64(x uint64) raw { return binary.LittleEndian.AppendUint64(r, x) }
func (r raw) str(s string) raw { return append(r.u64(uint64(len(s))), s...) }
func (r raw) bytes(p ...byte) raw {
	return append(r, p...)
}

// head starts a v3 file with the given counts.
func head(tensors, kvs uint64) raw { return raw("GGUF").u32(3).u64(tensors).u64(kvs) }

// tensorInfo appends one tensor info record.
func (r raw) tensorInfo(name string, typ uint32, offset uint64, dims ...uint64) raw {
	r = r.str(name).u32(uint32(len(dims)))
	for _, d := range dims {
		r = r.u64(d)
	}
	return r.u32(typ).u64(offset)
}

// pad appends zeros up to a multiple of 32.
func (r raw) pad() raw {
	for len(r)%32 != 0 {
		r = append(r, 0)
	}
	return r
}

func nestedArrays(depth int) raw {
	r := head(0, 1).str("deep").u32(uint32(gguf.ValueArray))
	for range depth - 1 {
		r = r.u32(uint32(gguf.ValueArray)).u64(1)
	}
	return r.u32(uint32(gguf.ValueUint8)).u64(0)
}

func TestCorruptInputs(t *testing.T) {
	cases := []struct {
		name string
		data raw
		want error
		// text must appear in the message; it names the field and offset.
		text string
	}{
		{"empty", nil, gguf.ErrTruncated, "byte 0: header: truncated: magic needs 4 bytes, 0 left"},
		{"bad magic", raw("GGML").u32(3).u64(0).u64(0), gguf.ErrMagic, `magic is "GGML"`},
		{"version 1", raw("GGUF").u32(1).u64(0).u64(0), gguf.ErrVersion, "byte 4: header: unsupported GGUF version 1"},
		{"big-endian", raw("GGUF").bytes(0, 0, 0, 3).u64(0).u64(0), gguf.ErrVersion, "big-endian"},
		{"version 9", raw("GGUF").u32(9).u64(0).u64(0), gguf.ErrVersion, "version 9"},
		{"no counts", raw("GGUF").u32(3), gguf.ErrTruncated, "byte 8: header: truncated: tensor count"},
		{"huge kv count", head(0, 1<<62), gguf.ErrLimit, "metadata entries cannot fit"},
		{"huge tensor count", head(1<<40, 0), gguf.ErrLimit, "tensor infos cannot fit"},
		{"key over limit", head(0, 1).u64(1 << 40).bytes(make([]byte, 13)...), gguf.ErrLimit, "byte 24: metadata entry 0: limit exceeded: key length 1099511627776"},
		{"key past end", head(0, 1).u64(100).bytes(make([]byte, 13)...), gguf.ErrTruncated, "key length 100 but only 13 bytes left"},
		{"unknown value type", head(0, 1).str("k").u32(13).bytes(0), gguf.ErrValueType, `byte 33: metadata entry 0 "k": unknown metadata value type 13`},
		{"truncated uint64", head(0, 1).str("k").u32(uint32(gguf.ValueUint64)).bytes(1, 2), gguf.ErrTruncated, "uint64 needs 8 bytes, 2 left"},
		{"string past end", head(0, 1).str("k").u32(uint32(gguf.ValueString)).u64(50).bytes('x'), gguf.ErrTruncated, "string length 50 but only 1 bytes left"},
		{"array too long", head(0, 1).str("k").u32(uint32(gguf.ValueArray)).u32(uint32(gguf.ValueUint32)).u64(1 << 61), gguf.ErrTruncated,
			"array of 2305843009213693952 uint32 needs at least 4 bytes each, 0 bytes left"},
		{"array of strings too long", head(0, 1).str("k").u32(uint32(gguf.ValueArray)).u32(uint32(gguf.ValueString)).u64(3).str("a").str("b"), gguf.ErrTruncated,
			"array of 3 string"},
		{"array element past end", head(0, 1).str("k").u32(uint32(gguf.ValueArray)).u32(uint32(gguf.ValueString)).u64(2).str("a").u64(9), gguf.ErrTruncated,
			"array element 1 length 9 but only 0 bytes left"},
		{"array bad element type", head(0, 1).str("k").u32(uint32(gguf.ValueArray)).u32(99).u64(0), gguf.ErrValueType, "unknown metadata value type 99"},
		{"arrays nested too deep", nestedArrays(gguf.MaxNesting + 1), gguf.ErrLimit, "arrays nested more than 8 deep"},
		{"duplicate key", head(0, 2).str("k").u32(uint32(gguf.ValueUint8)).bytes(1).str("k").u32(uint32(gguf.ValueUint8)).bytes(2), gguf.ErrDuplicate, `byte 38: metadata entry 1 "k": duplicate key "k"`},
		{"alignment type", head(0, 1).str(gguf.KeyAlignment).u32(uint32(gguf.ValueUint64)).u64(32), gguf.ErrAlignment, "general.alignment is uint64, want uint32"},
		{"alignment zero", head(0, 1).str(gguf.KeyAlignment).u32(uint32(gguf.ValueUint32)).u32(0), gguf.ErrAlignment, "general.alignment is 0, want a power of two"},
		{"alignment odd", head(0, 1).str(gguf.KeyAlignment).u32(uint32(gguf.ValueUint32)).u32(24), gguf.ErrAlignment, "is 24"},
		{"tensor zero dims", head(1, 0).tensorInfo("t", 0, 0).pad(), gguf.ErrShape, `tensor info 0 "t": bad tensor shape: 0 dimensions`},
		{"tensor five dims", head(1, 0).tensorInfo("t", 0, 0, 1, 1, 1, 1, 1).pad(), gguf.ErrShape, "5 dimensions (want 1..4)"},
		{"tensor unknown type", head(1, 0).tensorInfo("t", 99, 0, 4).pad(), gguf.ErrTensorType, `tensor info 0 "t": unknown tensor type 99`},
		{"tensor partial block", head(1, 0).tensorInfo("t", uint32(gguf.TypeQ4_0), 0, 33).pad(), gguf.ErrShape, "row length 33 is not a multiple of the Q4_0 block size 32"},
		{"tensor dim beyond int64", head(1, 0).tensorInfo("t", 0, 0, 1<<63).pad(), gguf.ErrShape, "larger than int64"},
		{"tensor element overflow", head(1, 0).tensorInfo("t", 0, 0, 1<<32, 1<<32).pad(), gguf.ErrShape, "overflows"},
		{"tensor unaligned", head(1, 0).tensorInfo("t", 0, 4, 1).pad(), gguf.ErrAlignment, "data offset 4 is not a multiple of 32"},
		{"tensor past end", head(1, 0).tensorInfo("t", 0, 0, 16).pad().bytes(make([]byte, 60)...), gguf.ErrRange, `byte 24: tensor info 0 "t": tensor data out of range: 64 bytes at data offset 0`},
		{"empty tensor past end", head(1, 0).tensorInfo("t", 0, 0, 4, 0), gguf.ErrRange, "0 bytes at data offset 0 (file byte 96)"},
		{"tensor offset past end", head(1, 0).tensorInfo("t", 0, 1<<40, 1).pad(), gguf.ErrRange, "run past the file"},
		{"tensor offset wraps", head(1, 0).tensorInfo("t", 0, 1<<64-32, 1).pad(), gguf.ErrRange, "out of range"},
		{"tensor name too long", head(1, 0).str(strings.Repeat("n", gguf.MaxNameLen+1)).u32(1).u64(1).u32(0).u64(0), gguf.ErrLimit, "name length 4097 is over the limit"},
		{"duplicate tensor", head(2, 0).tensorInfo("t", 0, 0, 1).tensorInfo("t", 0, 32, 1).pad().bytes(make([]byte, 64)...), gguf.ErrDuplicate, `tensor info 1 "t": duplicate tensor name`},
		{"truncated tensor info", head(1, 0).str("t").u32(2).u64(4).bytes(make([]byte, 19)...), gguf.ErrTruncated, `byte 57: tensor info 0 "t": truncated: data offset needs 8 bytes, 7 left`},
		{"truncated dimensions", head(1, 0).str("t").u32(4).u64(4).u64(4).bytes(1, 2, 3), gguf.ErrTruncated, "dimension needs 8 bytes, 3 left"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			f, err := gguf.Parse(tc.data)
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatalf("parsed without error: %d keys", len(f.Keys()))
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("err = %q, want it to contain %q", err, tc.text)
			}
			var fe *gguf.FormatError
			if !errors.As(err, &fe) || fe.Offset < 0 || fe.Offset > int64(len(tc.data)) {
				t.Errorf("err %v is not a FormatError with an offset inside the data", err)
			}
			// Generous slack for the runtime's own allocations; what matters
			// is that hostile counts (2^40, 2^62) allocate nothing like that.
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20+16*uint64(len(tc.data)) {
				t.Errorf("parsing %d bytes allocated %d bytes", len(tc.data), grew)
			}
		})
	}
}

// TestEveryTruncation cuts a valid file at every length: each prefix must
// fail cleanly (the full file parses).
func TestEveryTruncation(t *testing.T) {
	data, err := os.ReadFile("testdata/small.gguf")
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(data) {
		f, err := gguf.Parse(data[:n])
		if err == nil {
			// A cut inside the final tensor's trailing padding leaves a valid file.
			last := f.Tensors()[len(f.Tensors())-1]
			if end := uint64(f.DataOffset()) + last.Offset + last.Size; uint64(n) < end {
				t.Fatalf("prefix of %d bytes parsed, but tensor data ends at %d", n, end)
			}
			continue
		}
		var fe *gguf.FormatError
		if !errors.As(err, &fe) {
			t.Fatalf("prefix %d: %v is not a FormatError", n, err)
		}
	}
}
