package sft

import (
	"fmt"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/trainer/rollout"
)

// Sequences turns a demo into training sequences through the transcript that
// rollouts use (rollout.Transcript), so SFT trains on exactly the tokens a
// rollout produces for the same replies. The targets (mask, weight 1) are the
// reply tokens and the end-of-generation token that closes each reply, so the
// model learns to stop; an injected mistake (Demo.Mistake) and its closing are
// context, not targets. Sequences longer than maxLen are cut to maxLen; the
// second result counts them.
func Sequences(chat rollout.Chat, env envs.Env, pc envs.PromptConfig, d Demo, maxLen int) ([]model.TrainSeq, int, error) {
	tr := rollout.NewTranscript(chat, env, pc, d.First)
	var targets [][]bool // per sequence, grown with it
	mark := func(seq, from, to int, target bool) {
		for len(targets[seq]) < len(tr.Seqs[seq]) {
			targets[seq] = append(targets[seq], false)
		}
		for i := from; i < to; i++ {
			targets[seq][i] = target
		}
	}
	for k, turn := range d.Turns {
		if k > 0 {
			tr.Observe(turn.Obs)
		}
		prompt, err := tr.Prompt()
		if err != nil {
			return nil, 0, err
		}
		if len(targets) < len(tr.Seqs) {
			targets = append(targets, nil)
		}
		si := len(tr.Seqs) - 1
		toks, err := chat.Tokenize(turn.Reply, false)
		if err != nil {
			return nil, 0, fmt.Errorf("tokenize %q: %w", clip(turn.Reply), err)
		}
		start := tr.Reply(toks, turn.Reply, len(prompt))
		mark(si, start, start+len(toks), d.taught(k))
		pos, err := tr.Close()
		if err != nil {
			return nil, 0, err
		}
		if pos >= 0 {
			mark(si, pos, pos+1, d.taught(k))
		}
	}
	out := make([]model.TrainSeq, len(tr.Seqs))
	cut := 0
	for i, toks := range tr.Seqs {
		mask := targets[i][:len(toks)]
		mask[0] = false // nothing predicts the first token
		w := make([]float32, len(toks))
		for j, m := range mask {
			if m {
				w[j] = 1
			}
		}
		if len(toks) > maxLen {
			toks, mask, w = toks[:maxLen], mask[:maxLen], w[:maxLen]
			cut++
		}
		out[i] = model.TrainSeq{Tokens: toks, Mask: mask, Weights: w}
	}
	return out, cut, nil
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
