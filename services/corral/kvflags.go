package main

import (
	"fmt"
	"os"

	"github.com/corral-ai/corral/inference/bytesize"
	"github.com/corral-ai/corral/inference/kvcache"
	"github.com/corral-ai/corral/services/inference"
)

// kvFlags are --kv-type and --kv-memory, shared by generate and bench;
// their defaults come from CORRAL_KV_TYPE and CORRAL_KV_MEMORY, as serve's
// settings do.
type kvFlags struct {
	typ, memory *string
}

// addKVFlags defines the flags on fs; defType is the element type when
// CORRAL_KV_TYPE is unset.
func addKVFlags(fs *cmdFlags, defType string) kvFlags {
	if v := os.Getenv(inference.EnvKVType); v != "" {
		defType = v
	}
	return kvFlags{
		typ: fs.String("kv-type", defType, "KV cache element type, f16 or f32 (f32 reproduces the reference outputs bit for bit; default from "+inference.EnvKVType+")"),
		memory: fs.String("kv-memory", os.Getenv(inference.EnvKVMemory),
			"KV cache budget such as 2GiB (default from "+inference.EnvKVMemory+", else a few whole contexts within a share of the memory available)"),
	}
}

// values parses the flags; a bad value is a usage error.
func (k kvFlags) values() (kvcache.Type, int64, error) {
	t, err := kvcache.ParseType(*k.typ)
	if err != nil {
		return 0, 0, usageError{fmt.Sprintf("--kv-type %q: want f16 or f32", *k.typ)}
	}
	var n int64
	if *k.memory != "" {
		if n, err = bytesize.Parse(*k.memory); err != nil || n <= 0 {
			return 0, 0, usageError{fmt.Sprintf("--kv-memory %q: want a size such as 512MiB or 2GiB", *k.memory)}
		}
	}
	return t, n, nil
}
