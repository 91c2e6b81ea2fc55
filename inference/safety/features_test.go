package safety

import "testing"

func TestWordFeatureMatchesAppendFeatures(t *testing.T) {
	for _, w := range []string{"bomb", "kill", "x", "привет"} {
		f, _ := appendFeatures(nil, w, nil)
		if len(f) != 1 || f[0] != wordFeature(w) {
			t.Errorf("%s: %v vs %v", w, f, wordFeature(w))
		}
	}
}
