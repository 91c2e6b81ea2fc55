package safety

import (
	"math"
	"strings"
)

// Feature hashing: every word and word pair of the normalised text is
// hashed to 32 bits; the weight tables index those bits. Hashes must never change
// without retraining: the committed weights depend on them.
const (
	kindWord   = 0x9e3779b9
	kindBigram = 0x85ebca6b
	fnvOffset  = 2166136261
	fnvPrime   = 16777619
)

func fnv(h uint32, b []byte) uint32 {
	for _, c := range b {
		h ^= uint32(c)
		h *= fnvPrime
	}
	return h
}

func fmix(h uint32) uint32 {
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

// appendFeatures appends the feature hashes of normalised text s to dst:
// each word (with boundary marks) and each pair of neighbouring words.
// Character n-grams were tried and lost accuracy on the held-out split
// (the normaliser already undoes most spelling tricks) and took five times
// longer to train.
func appendFeatures(dst []uint32, s string, scratch []byte) ([]uint32, []byte) {
	var prev uint32
	havePrev, prevStop := false, false
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] != ' ' {
			j++
		}
		w := s[i:j]
		i = j + 1
		if len(w) == 0 {
			continue
		}
		scratch = append(scratch[:0], '<')
		scratch = append(scratch, w...)
		scratch = append(scratch, '>')
		hw := fnv(fnvOffset, scratch)
		stop := stopWords[w]
		if !stop {
			dst = append(dst, fmix(hw^kindWord))
		}
		if havePrev && !(stop && prevStop) {
			dst = append(dst, fmix(prev*31+hw^kindBigram))
		}
		prev, havePrev, prevStop = hw, true, stop
	}
	return dst, scratch
}

// wordFeature is the feature hash of word w alone, as appendFeatures
// computes it.
func wordFeature(w string) uint32 {
	h := uint32(fnvOffset)
	h = (h ^ '<') * fnvPrime
	for i := 0; i < len(w); i++ {
		h = (h ^ uint32(w[i])) * fnvPrime
	}
	h = (h ^ '>') * fnvPrime
	return fmix(h ^ kindWord)
}

// featureValue is the value of each feature of a text with n features:
// the feature vector has unit length, so long texts do not score higher
// just for being long.
func featureValue(n int) float64 {
	if n == 0 {
		return 0
	}
	return 1 / math.Sqrt(float64(n))
}

// stopWords are function words. They get no feature of their own, nor do
// pairs of them ("how to", "is the"): in the training corpus they mark
// style (instructions versus tweets) more than harm, and a classifier that
// leans on them refuses ordinary questions.
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an the and or but if then so of to in on at by for with from about as into
		over under than too very can could would should will shall may might must do does did done
		is am are was were be been being have has had having i me my mine we us our you your yours he him his
		she her hers it its they them their this that these those there here what which who whom whose when
		where why how all any some each every no not just also only own same other such s t d ll m re ve
		get got make let please tell give write explain describe way best steps step without`) {
		m[w] = true
	}
	return m
}()
