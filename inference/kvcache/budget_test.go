package kvcache

import "testing"

func TestDefaultBudget(t *testing.T) {
	const gib = 1 << 30
	tests := []struct {
		name         string
		avail, model int64
		want         int64
	}{
		{"half of what the weights leave", 16 * gib, 4 * gib, 6 * gib},
		{"no model yet", 8 * gib, 0, 4 * gib},
		{"model larger than memory", 2 * gib, 3 * gib, MinBudget},
		{"tiny machine", 100 << 20, 0, MinBudget},
		{"negative model size ignored", 4 * gib, -1, 2 * gib},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := budgetFor(tt.avail, tt.model); got != tt.want {
				t.Fatalf("budgetFor(%d, %d) = %d, want %d", tt.avail, tt.model, got, tt.want)
			}
		})
	}
	if b := DefaultBudget(1 << 20); b < MinBudget {
		t.Fatalf("DefaultBudget = %d", b)
	}
}
