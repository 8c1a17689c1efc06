package tokenizer

import (
	"container/heap"
	"fmt"
	"sort"
	"strings"
)

// MinVocab is the smallest vocabulary: the 256 byte tokens and the specials.
var MinVocab = 256 + len(Specials)

// Train learns a byte-level BPE vocabulary of exactly vocabSize tokens from
// corpus: ids 0..255 are the bytes, 256..258 the specials (control), then
// merged tokens in the order learned. Each step merges the most frequent
// adjacent pair within pre-tokens (ties: lowest ids first), so training is
// deterministic. When the corpus runs out of pairs, training goes on over
// pseudo-words drawn from the corpus's byte statistics (synth.go); only if
// those add nothing either is the rest filled with unused tokens
// "<|unused_N|>", which keeps the model's shapes as asked.
func Train(corpus string, vocabSize int) (*Tokenizer, error) {
	if vocabSize < MinVocab {
		return nil, fmt.Errorf("train tokenizer: vocabulary %d < %d (bytes and specials)", vocabSize, MinVocab)
	}
	tokens := make([]string, 0, vocabSize)
	types := make([]int32, 0, vocabSize)
	for b := 0; b < 256; b++ {
		tokens = append(tokens, byteToUnicode[b])
		types = append(types, TypeNormal)
	}
	for _, s := range Specials {
		tokens = append(tokens, s)
		types = append(types, TypeControl)
	}
	ids := make(map[string]int32, vocabSize)
	for i, s := range tokens {
		ids[s] = int32(i)
	}

	words := countWords(corpus)
	st := newPairStats(words)
	var merges []string
	merged := map[[2]int32]bool{}
	gen := newWordGen(words)
	for synth := 0; len(tokens) < vocabSize; {
		p, ok := st.best()
		if !ok {
			// The corpus is used up: go on with pseudo-words drawn from its
			// byte statistics, so that a large vocabulary holds text pieces
			// that occur in text rather than unused tokens.
			if synth == maxSyntheticRounds || gen == nil {
				break
			}
			synth++
			tk, err := New(tokens, types, merges)
			if err != nil {
				return nil, fmt.Errorf("train tokenizer: %w", err)
			}
			if !st.addWords(gen.words(tk, syntheticWords)) {
				break
			}
			continue
		}
		text := tokens[p[0]] + tokens[p[1]]
		c, exists := ids[text]
		if !exists {
			// a text reached by another split reuses its token: GGUF token texts must be unique
			c = int32(len(tokens))
			ids[text] = c
			tokens = append(tokens, text)
			types = append(types, TypeNormal)
		}
		if !merged[p] {
			merged[p] = true
			merges = append(merges, tokens[p[0]]+" "+tokens[p[1]])
		}
		st.merge(p, c)
	}
	for i := 0; len(tokens) < vocabSize; i++ {
		tokens = append(tokens, fmt.Sprintf("<|unused_%d|>", i))
		types = append(types, TypeUnused)
	}
	return New(tokens, types, merges)
}

// countWords splits the corpus into pre-tokens (special-token texts removed)
// and counts them; the result is sorted for determinism.
func countWords(corpus string) []word {
	counts := map[string]int{}
	for _, s := range Specials {
		corpus = strings.ReplaceAll(corpus, s, "\n")
	}
	for _, w := range Split(corpus) {
		counts[w]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	words := make([]word, len(keys))
	for i, k := range keys {
		syms := make([]int32, len(k))
		for j := 0; j < len(k); j++ {
			syms[j] = int32(k[j]) // byte b is token b
		}
		words[i] = word{syms, counts[k]}
	}
	return words
}

type word struct {
	syms  []int32
	count int
}

// pairStats keeps adjacent-pair counts over all words incrementally, with a
// max-heap of (count, pair) whose stale entries are skipped when popped.
type pairStats struct {
	words  []word
	counts map[[2]int32]int
	where  map[[2]int32]map[int]bool // words that contained the pair when counted
	h      pairHeap
}

// addWords adds words to the statistics; false if they hold no pair.
func (s *pairStats) addWords(ws []word) bool {
	added := false
	for _, w := range ws {
		if len(w.syms) < 2 {
			continue
		}
		added = true
		s.words = append(s.words, w)
		s.add(len(s.words)-1, 1)
		for j := 0; j+1 < len(w.syms); j++ {
			p := [2]int32{w.syms[j], w.syms[j+1]}
			heap.Push(&s.h, pairCount{p, s.counts[p]})
		}
	}
	return added
}

func newPairStats(words []word) *pairStats {
	s := &pairStats{words: words, counts: map[[2]int32]int{}, where: map[[2]int32]map[int]bool{}}
	for i := range words {
		s.add(i, 1)
	}
	for p, c := range s.counts {
		s.h = append(s.h, pairCount{p, c})
	}
	heap.Init(&s.h)
	return s
}

// add adds (sign=1) or removes (sign=-1) word i's pairs.
func (s *pairStats) add(i, sign int) {
	w := s.words[i]
	for j := 0; j+1 < len(w.syms); j++ {
		p := [2]int32{w.syms[j], w.syms[j+1]}
		s.counts[p] += sign * w.count
		if sign > 0 {
			if s.where[p] == nil {
				s.where[p] = map[int]bool{}
			}
			s.where[p][i] = true
		}
	}
}

func (s *pairStats) best() ([2]int32, bool) {
	for s.h.Len() > 0 {
		e := heap.Pop(&s.h).(pairCount)
		if c := s.counts[e.pair]; c == e.count && c > 0 {
			return e.pair, true
		}
	}
	return [2]int32{}, false
}

// merge replaces every occurrence of p by c, left to right without overlap.
func (s *pairStats) merge(p [2]int32, c int32) {
	ws := make([]int, 0, len(s.where[p]))
	for i := range s.where[p] {
		ws = append(ws, i)
	}
	sort.Ints(ws)
	delete(s.where, p)
	touched := map[[2]int32]bool{}
	for _, i := range ws {
		w := &s.words[i]
		if !contains(w.syms, p) {
			continue
		}
		for j := 0; j+1 < len(w.syms); j++ {
			touched[[2]int32{w.syms[j], w.syms[j+1]}] = true // counts fall
		}
		s.add(i, -1)
		out := w.syms[:0]
		for j := 0; j < len(w.syms); j++ {
			if j+1 < len(w.syms) && w.syms[j] == p[0] && w.syms[j+1] == p[1] {
				out = append(out, c)
				j++
			} else {
				out = append(out, w.syms[j])
			}
		}
		w.syms = out
		s.add(i, 1)
		for j := 0; j+1 < len(out); j++ {
			touched[[2]int32{out[j], out[j+1]}] = true // counts rise
		}
	}
	keys := make([][2]int32, 0, len(touched))
	for q := range touched {
		keys = append(keys, q)
	}
	sort.Slice(keys, func(a, b int) bool { return less(keys[a], keys[b]) })
	for _, q := range keys {
		if c := s.counts[q]; c > 0 {
			heap.Push(&s.h, pairCount{q, c})
		} else {
			delete(s.counts, q)
		}
	}
}

func contains(syms []int32, p [2]int32) bool {
	for j := 0; j+1 < len(syms); j++ {
		if syms[j] == p[0] && syms[j+1] == p[1] {
			return true
		}
	}
	return false
}

func less(a, b [2]int32) bool { return a[0] < b[0] || a[0] == b[0] && a[1] < b[1] }

type pairCount struct {
	pair  [2]int32
	count int
}

// pairHeap pops the highest count first, then the lowest pair: a total order,
// so the learned merges do not depend on map iteration order.
type pairHeap []pairCount

func (h pairHeap) Len() int { return len(h) }
func (h pairHeap) Less(i, j int) bool {
	if h[i].count != h[j].count {
		return h[i].count > h[j].count
	}
	return less(h[i].pair, h[j].pair)
}
func (h pairHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pairHeap) Push(x any)   { *h = append(*h, x.(pairCount)) }
func (h *pairHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
