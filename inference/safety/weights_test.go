package safety

import (
	"bytes"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/corral-ai/corral/inference/shareddata"
)

var update = flag.Bool("update", false, "rewrite classifier.weights from the shared corpus")

// TestWeightsReproducible retrains from the shared corpus with the default
// seed and checks that the committed weights come out byte for byte.
func TestWeightsReproducible(t *testing.T) {
	f, err := os.Open(shareddata.Path(t, "safety", "train.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	start := time.Now()
	rep, err := TrainCorpus(f, &out, TrainOptions{}, DefaultHoldout)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("trained on %d of %d examples in %v; weights %d bytes; classifier alone on the held-out %d: recall %.3f, false positives %.3f",
		rep.Train, rep.Examples, time.Since(start).Round(time.Millisecond), rep.WeightsBytes, rep.HeldOut, rep.HeldOutRecall, rep.HeldOutFP)
	if *update {
		if err := os.WriteFile("classifier.weights", out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(out.Bytes(), embeddedWeights) {
		a, errA := UnmarshalModel(out.Bytes())
		b, errB := UnmarshalModel(embeddedWeights)
		if errA == nil && errB == nil {
			diff := 0
			for i := range a.bin {
				if a.bin[i] != b.bin[i] {
					diff++
				}
			}
			t.Errorf("%d of %d unsafe weights differ", diff, len(a.bin))
		}
		t.Fatal("retrained weights differ from classifier.weights (run go test -run TestWeightsReproducible -update ./inference/safety/ after changing features or training)")
	}
}

func loadCorpus(t testing.TB) []Example {
	t.Helper()
	f, err := os.Open(shareddata.Path(t, "safety", "train.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ex, err := ReadCorpus(f)
	if err != nil {
		t.Fatal(err)
	}
	return ex
}
