package scoring

import (
	"fmt"
	"slices"

	"github.com/atod-dev/atod/model"
)

// Probe is the text both tokenizers must split into the same ids.
const Probe = "Teacher probe: go to shelf 12, take the mug (ok?) — then say \"done\".\n"

// Check makes sure the server can score the student's ids: both tokenize Probe
// to the same ids, the server scores the student's largest id (its vocabulary
// is at least as long: padding past it is accepted, as for a local teacher) and
// serves top-k lists of topK. It returns a note on the served vocabulary.
func (c *Client) Check(student model.LM, topK int) (string, error) {
	s, err := student.Tokenize(Probe, false)
	if err != nil {
		return "", fmt.Errorf("tokenizer check: student: %w", err)
	}
	t, err := c.Tokenize(Probe, false)
	if err != nil {
		return "", fmt.Errorf("tokenizer check: %w", err)
	}
	if c.cfg.API == SGLang && len(t) == len(s)+1 && slices.Equal(t[1:], s) {
		t = t[1:] // SGLang's /generate adds the BOS that the student's ids leave out
	}
	if !slices.Equal(s, t) || len(s) < 2 {
		return "", fmt.Errorf("the teacher at %s and the student tokenize %q differently: the student's ids would be scored as other tokens\n  student: %v\n  teacher: %v",
			c.cfg.URL, Probe, s, t)
	}
	vs := student.VocabSize()
	if c.vocab > 0 && c.vocab < vs {
		return "", fmt.Errorf("the student's vocabulary (%d tokens) extends the teacher's at %s (%d): the student could emit ids the teacher cannot score", vs, c.cfg.URL, c.vocab)
	}
	res, err := c.Score([]model.ScoreRequest{{Tokens: []int32{s[0], int32(vs - 1)}, From: 1, TopK: topK}})
	if err != nil {
		return "", fmt.Errorf("the teacher at %s cannot score the student's largest id %d (a vocabulary of %d tokens): %w", c.cfg.URL, vs-1, vs, err)
	}
	for _, tl := range res[0].TopK {
		for _, x := range tl {
			if c.vocab > 0 && int(x.Token) >= c.vocab {
				return "", fmt.Errorf("the teacher at %s lists token %d, past its vocabulary of %d", c.cfg.URL, x.Token, c.vocab)
			}
		}
	}
	switch {
	case c.vocab > vs:
		return fmt.Sprintf("teacher %s at %s: the student's %d tokens plus %d more ids; the teacher's log-probs are over all %d", c.model, c.cfg.URL, vs, c.vocab-vs, c.vocab), nil
	case c.vocab == vs:
		return fmt.Sprintf("teacher %s at %s: the student's %d tokens", c.model, c.cfg.URL, vs), nil
	}
	return fmt.Sprintf("teacher %s at %s: tokenizes as the student and scores its ids up to %d", c.model, c.cfg.URL, vs-1), nil
}
