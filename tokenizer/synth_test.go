package tokenizer

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"unicode/utf8"
)

func TestChoicesDraw(t *testing.T) {
	c := &choices{index: map[int]int{}}
	c.add(5, 2)
	c.add(7, 1)
	c.add(5, 1) // 5: 3/4, 7: 1/4
	rng := rand.New(rand.NewPCG(1, 1))
	n5 := 0
	const n = 20000
	for i := 0; i < n; i++ {
		switch c.draw(rng) {
		case 5:
			n5++
		case 7:
		default:
			t.Fatal("drew a value never added")
		}
	}
	if p := float64(n5) / n; p < 0.73 || p > 0.77 {
		t.Errorf("P(5) = %.3f, want 0.75", p)
	}
}

func TestTrainBeyondCorpus(t *testing.T) {
	corpus := mixed + "go to the cabinet and open the drawer; take a mug from the shelf, then search for red running shoes."
	a, err := Train(corpus, 1500)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Train(corpus, 1500)
	if !reflect.DeepEqual(a.Tokens, b.Tokens) || !reflect.DeepEqual(a.Merges, b.Merges) {
		t.Fatal("not deterministic")
	}
	corpusOnly, _ := Train(corpus, MinVocab+10)
	if !reflect.DeepEqual(a.Merges[:10], corpusOnly.Merges) {
		t.Error("pseudo-words changed the corpus merges")
	}
	// learned tokens are text pieces that encode back to themselves (BPE does
	// not promise it for every token, and not for partial UTF-8 characters)
	valid, self := 0, 0
	for i := MinVocab; i < len(a.Tokens); i++ {
		if a.Types[i] != TypeNormal {
			t.Fatalf("token %d %q has type %d", i, a.Tokens[i], a.Types[i])
		}
		text := a.Decode([]int32{int32(i)})
		if !utf8.ValidString(text) {
			continue
		}
		valid++
		if ids := a.Encode(text, false); len(ids) == 1 && ids[0] == int32(i) {
			self++
		}
	}
	if valid < 1200 || self < valid*99/100 {
		t.Errorf("%d of %d valid-text tokens encode to themselves", self, valid)
	}
}
