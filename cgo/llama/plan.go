package llama

// A job asks that sequence seq's KV cache hold toks when it is done, with logits for those of
// positions firstOut..len(toks)-1 that have an outs slot. The KV cache may be reused only below firstOut.
type job struct {
	seq      int
	toks     []int32
	firstOut int
	out      []int // out[p-firstOut]: the outs slot for position p's logits, -1 for none
}

// reuse is where a job's KV prefix of n tokens comes from: its own sequence (from = -1),
// or the sequence of jobs[from], copied after that job has decoded it.
type reuse struct {
	from int
	n    int
}

// planReuse picks, for each job, the longest prefix it need not decode: the part of its own cache
// that matches its tokens, or a longer prefix shared with an earlier job of the same call that does
// not copy itself (so copies never chain).
func planReuse(jobs []job, cached [][]int32) []reuse {
	r := make([]reuse, len(jobs))
	for i, j := range jobs {
		r[i] = reuse{from: -1, n: min(lcp(cached[j.seq], j.toks), j.firstOut)}
		for l := range i {
			if r[l].from >= 0 {
				continue
			}
			if n := min(lcp(jobs[l].toks, j.toks), j.firstOut, jobs[l].firstOut); n > r[i].n {
				r[i] = reuse{from: l, n: n}
			}
		}
	}
	return r
}

// lcp is the length of the longest common prefix of a and b.
func lcp(a, b []int32) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
