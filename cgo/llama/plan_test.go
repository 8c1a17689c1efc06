package llama

import (
	"fmt"
	"testing"
)

func TestPlanReuse(t *testing.T) {
	cached := [][]int32{nil, nil, nil, {7, 8, 9}, {1, 2, 3, 4, 5}}
	jobs := []job{
		{seq: 0, toks: []int32{1, 2, 3, 4}, firstOut: 3},       // nothing cached: decodes all
		{seq: 1, toks: []int32{1, 2, 3, 5}, firstOut: 3},       // copies 3 from job 0
		{seq: 2, toks: []int32{1, 2, 9}, firstOut: 2},          // copies 2 from job 0, never from the copier job 1
		{seq: 3, toks: []int32{7, 8}, firstOut: 1},             // keeps 1 of its own: logits needed at position 1
		{seq: 4, toks: []int32{1, 2, 3, 4, 5, 6}, firstOut: 5}, // its own 5 beat job 0's 3 (capped by job 0's firstOut)
	}
	want := []reuse{{-1, 0}, {0, 3}, {0, 2}, {-1, 1}, {-1, 5}}
	if got := planReuse(jobs, cached); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("planReuse = %v, want %v", got, want)
	}
	// Scoring from position 2 may reuse at most 1 cached token, however long the match.
	if got := planReuse([]job{{seq: 4, toks: []int32{1, 2, 3, 4}, firstOut: 1}}, cached); got[0] != (reuse{-1, 1}) {
		t.Errorf("capped reuse = %v, want {-1 1}", got[0])
	}
}
