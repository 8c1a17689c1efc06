// Package bm25 is an in-memory BM25 index, the built-in search of the webshop
// and searchqa envs.
package bm25

import (
	"math"
	"sort"
	"strings"
	"unicode"
)

// Index is a BM25 index (Robertson/Sparck Jones idf, as Lucene and pyserini
// compute it). Read-only after construction, so safe for concurrent search.
type Index struct {
	k1, b    float64
	postings map[string][]posting
	docLen   []float64
	avgLen   float64
}

type posting struct {
	doc int
	tf  float64
}

// pyserini's defaults.
const defaultK1, defaultB = 0.9, 0.4

var stopwords = map[string]bool{}

func init() {
	for _, w := range strings.Fields("a an and are as at be by for from has he in is it its of on or that the to was were will with which who what where when how i me my you your we our this these those do does did s") {
		stopwords[w] = true
	}
}

// IsStopword reports whether w, lowercase, is one of the words the index drops.
func IsStopword(w string) bool { return stopwords[w] }

// terms lowercases s, splits it at every non-alphanumeric rune and drops stopwords.
func terms(s string) []string {
	f := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	out := f[:0]
	for _, t := range f {
		if !stopwords[t] {
			out = append(out, t)
		}
	}
	return out
}

// New indexes docs; a document is named by its index in docs.
func New(docs []string) *Index {
	ix := &Index{k1: defaultK1, b: defaultB, postings: map[string][]posting{}, docLen: make([]float64, len(docs))}
	total := 0.0
	for d, text := range docs {
		tf := map[string]float64{}
		ts := terms(text)
		for _, t := range ts {
			tf[t]++
		}
		// Sorted so postings, and hence float sums, come out in one order.
		keys := make([]string, 0, len(tf))
		for t := range tf {
			keys = append(keys, t)
		}
		sort.Strings(keys)
		for _, t := range keys {
			ix.postings[t] = append(ix.postings[t], posting{d, tf[t]})
		}
		ix.docLen[d] = float64(len(ts))
		total += float64(len(ts))
	}
	if len(docs) > 0 {
		ix.avgLen = total / float64(len(docs))
	}
	return ix
}

// Search returns up to k documents by descending score, ties by index;
// documents sharing no term with the query are not returned.
func (ix *Index) Search(query string, k int) []int {
	n := float64(len(ix.docLen))
	scores := map[int]float64{}
	qs := terms(query)
	sort.Strings(qs)
	for _, t := range qs {
		ps := ix.postings[t]
		if len(ps) == 0 {
			continue
		}
		df := float64(len(ps))
		idf := math.Log(1 + (n-df+0.5)/(df+0.5))
		for _, p := range ps {
			norm := ix.k1 * (1 - ix.b + ix.b*ix.docLen[p.doc]/ix.avgLen)
			scores[p.doc] += idf * p.tf * (ix.k1 + 1) / (p.tf + norm)
		}
	}
	docs := make([]int, 0, len(scores))
	for d := range scores {
		docs = append(docs, d)
	}
	sort.Slice(docs, func(i, j int) bool {
		if scores[docs[i]] != scores[docs[j]] {
			return scores[docs[i]] > scores[docs[j]]
		}
		return docs[i] < docs[j]
	})
	if len(docs) > k {
		docs = docs[:k]
	}
	return docs
}
