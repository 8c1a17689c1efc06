package tokenizer

import (
	"math/rand/v2"
	"unicode/utf8"
)

// Pseudo-words extend a corpus too small for the vocabulary asked for.
const (
	syntheticWords     = 4096 // pseudo-words per round
	maxSyntheticRounds = 1024
	maxWordLen         = 16
)

// wordGen draws pseudo-words from a byte Markov chain fitted to the corpus
// pre-tokens (weighted by count), from a fixed seed: deterministic. Each step
// uses the last two bytes, or one byte with probability backoff, which keeps
// words plausible while a small corpus still yields many new ones.
type wordGen struct {
	next map[[2]int]*choices // context (-1 = word start, -2 = none) → next byte (-1 = word end)
	rng  *rand.Rand
}

const backoff = 0.25

type choices struct {
	vals  []int
	cum   []int // cumulative counts
	index map[int]int
}

func (c *choices) add(v, n int) {
	i, ok := c.index[v]
	if !ok {
		i = len(c.vals)
		c.index[v] = i
		c.vals = append(c.vals, v)
		last := 0
		if len(c.cum) > 0 {
			last = c.cum[len(c.cum)-1]
		}
		c.cum = append(c.cum, last)
	}
	for j := i; j < len(c.cum); j++ {
		c.cum[j] += n
	}
}

func (c *choices) draw(rng *rand.Rand) int {
	x := rng.IntN(c.cum[len(c.cum)-1])
	lo, hi := 0, len(c.cum)-1
	for lo < hi { // first cumulative count above x
		mid := (lo + hi) / 2
		if c.cum[mid] > x {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return c.vals[lo]
}

// newWordGen fits the chain; nil for a corpus without words.
func newWordGen(words []word) *wordGen {
	g := &wordGen{next: map[[2]int]*choices{}, rng: rand.New(rand.NewPCG(0x746f6b, 0x656e73))}
	for _, w := range words {
		a, b := -1, -1
		for _, s := range append(w.syms, -1) {
			for _, ctx := range [][2]int{{a, b}, {-2, b}} {
				c := g.next[ctx]
				if c == nil {
					c = &choices{index: map[int]int{}}
					g.next[ctx] = c
				}
				c.add(int(s), w.count)
			}
			a, b = b, int(s)
		}
	}
	if len(g.next) == 0 {
		return nil
	}
	return g
}

// words draws n pseudo-words, cut into pre-tokens and encoded with tk's
// current merges, ready for further merging.
func (g *wordGen) words(tk *Tokenizer, n int) []word {
	var out []word
	buf := make([]byte, 0, maxWordLen)
	for i := 0; i < n; i++ {
		buf = buf[:0]
		a, b := -1, -1
		for len(buf) < maxWordLen {
			ctx := [2]int{a, b}
			if g.rng.Float64() < backoff {
				ctx[0] = -2
			}
			v := g.next[ctx].draw(g.rng)
			if v < 0 {
				break
			}
			buf = append(buf, byte(v))
			a, b = b, v
		}
		if !utf8.Valid(buf) { // text, not byte soup
			continue
		}
		for _, piece := range Split(string(buf)) {
			out = append(out, word{tk.encodeWord(nil, piece), 1})
		}
	}
	return out
}
