package trainer

import (
	"fmt"
	"strings"

	"github.com/atod-dev/atod/envs"
)

// turnRec is one action of an episode: where its tokens sit in the episode's
// token sequences and what the student (and later the teacher) said about them.
type turnRec struct {
	seq, start, n int       // action tokens are seqs[seq][start : start+n]
	lpS, ent      []float32 // student log-prob and entropy at sampling time
	lpT           []float32 // teacher log-prob of the same tokens
	kl            []float64 // per-token top-k KL (disagreement = topk_kl)
	invalid       bool
}

// episode is one rollout. In "full" history mode seqs has one append-only
// transcript; in "last" mode every turn is its own sequence.
type episode struct {
	task             envs.Task
	taskIdx, rollout int
	seqs             [][]int32
	turns            []turnRec
	won              bool
	score            float64
	invalid          int
	done             bool
	truncated        bool // ran out of context or turns

	ep            envs.Episode
	firstObs, obs envs.Observation
	history       []envs.Turn
	pendingEOG    string // rendered form of a sampled end-of-turn token
}

// rolloutSpec says how a batch of episodes is played.
type rolloutSpec struct {
	pc       envs.PromptConfig
	sampling Sampling
	maxTurns int
	// seed gives the sampling seed of (task, rollout, turn); resume is exact
	// because nothing else feeds the samplers.
	seed func(taskIdx, rollout, turn int) uint64
}

// rollout plays every task group times with lm, all live episodes of a wave
// sampled together in one Generate call per turn.
func rollout(lm LM, env envs.Env, tasks []envs.Task, group int, spec rolloutSpec) ([]*episode, error) {
	var eps []*episode
	for ti, t := range tasks {
		for r := 0; r < group; r++ {
			eps = append(eps, &episode{task: t, taskIdx: ti, rollout: r})
		}
	}
	defer func() {
		for _, e := range eps {
			if e.ep != nil {
				e.ep.Close()
			}
		}
	}()
	for _, e := range eps {
		ep, err := env.Open(e.task)
		if err != nil {
			return nil, fmt.Errorf("open task %s: %w", e.task.ID, err)
		}
		e.ep = ep
		if e.firstObs, err = ep.Reset(); err != nil {
			return nil, fmt.Errorf("reset task %s: %w", e.task.ID, err)
		}
		e.obs = e.firstObs
	}
	lm.ClearAll() // a fresh cache makes the numbers independent of earlier phases
	for lo := 0; lo < len(eps); lo += lm.NSeq() {
		if err := playWave(lm, env, eps[lo:min(len(eps), lo+lm.NSeq())], spec); err != nil {
			return nil, err
		}
	}
	return eps, nil
}

func playWave(lm LM, env envs.Env, wave []*episode, spec rolloutSpec) error {
	stops := env.StopStrings()
	for turn := 0; turn < spec.maxTurns; turn++ {
		var reqs []GenRequest
		var live []*episode
		for i, e := range wave {
			if e.done {
				continue
			}
			undo := e.mark()
			prompt, err := nextPrompt(lm, env, spec.pc, e)
			if err != nil {
				return fmt.Errorf("task %s turn %d: %w", e.task.ID, turn+1, err)
			}
			if len(prompt)+spec.sampling.MaxTokens > lm.NCtx() {
				// The unanswered prompt would not fit the scorer's or learner's context either.
				undo()
				e.done, e.truncated = true, true
				continue
			}
			s := spec.sampling
			s.Seed = spec.seed(e.taskIdx, e.rollout, turn)
			s.Stop = stops
			reqs = append(reqs, GenRequest{Seq: i, Prompt: prompt, Sampling: s})
			live = append(live, e)
		}
		if len(reqs) == 0 {
			return nil
		}
		res, err := lm.Generate(reqs)
		if err != nil {
			return fmt.Errorf("generate turn %d: %w", turn+1, err)
		}
		for i, e := range live {
			if err := e.apply(lm, env, res[i], len(reqs[i].Prompt)); err != nil {
				return fmt.Errorf("task %s turn %d: %w", e.task.ID, turn+1, err)
			}
		}
	}
	for _, e := range wave {
		if !e.done {
			e.done, e.truncated = true, true
		}
	}
	return nil
}

// nextPrompt returns the tokens the next reply continues. In "full" mode the
// transcript only grows: the sampled tokens stay as sampled and only the chat
// template's text after the last reply is tokenized and appended, so log-probs
// stay exactly on-policy and the KV cache is reused. That text is found by
// rendering the conversation with a sentinel in place of the replies, which
// makes it independent of what the model wrote (a NUL byte, text a template
// would trim).
func nextPrompt(lm LM, env envs.Env, pc envs.PromptConfig, e *episode) ([]int32, error) {
	if pc.History == "last" || len(e.seqs) == 0 {
		text, err := lm.ApplyChatTemplate(envs.Messages(env, pc, e.firstObs, e.history, e.obs), true)
		if err != nil {
			return nil, fmt.Errorf("chat template: %w", err)
		}
		toks, err := lm.Tokenize(text, true)
		if err != nil {
			return nil, err
		}
		e.seqs = append(e.seqs, toks)
		return toks, nil
	}
	const sentinel = "\x1fATOD-REPLY\x1f"
	hist := make([]envs.Turn, len(e.history))
	for i, t := range e.history {
		hist[i] = envs.Turn{Obs: t.Obs, Reply: sentinel}
	}
	text, err := lm.ApplyChatTemplate(envs.Messages(env, pc, e.firstObs, hist, e.obs), true)
	if err != nil {
		return nil, fmt.Errorf("chat template: %w", err)
	}
	i := strings.LastIndex(text, sentinel)
	if i < 0 {
		return nil, fmt.Errorf("the chat template drops assistant replies; use rollout.history = \"last\"")
	}
	suffix := text[i+len(sentinel):]
	if e.pendingEOG != "" {
		suffix = strings.TrimPrefix(suffix, e.pendingEOG) // the sampled end-of-turn token is already in the transcript
		e.pendingEOG = ""
	}
	toks, err := lm.Tokenize(suffix, true)
	if err != nil {
		return nil, err
	}
	e.seqs[0] = append(e.seqs[0], toks...)
	return e.seqs[0], nil
}

// mark returns a function that restores the episode's sequences to their
// current length, dropping a prompt that is never answered.
func (e *episode) mark() func() {
	n := len(e.seqs)
	last := 0
	if n > 0 {
		last = len(e.seqs[n-1])
	}
	return func() {
		e.seqs = e.seqs[:n]
		if n > 0 {
			e.seqs[n-1] = e.seqs[n-1][:last]
		}
	}
}

// apply records a sampled reply and steps the env with its action.
func (e *episode) apply(lm LM, env envs.Env, g GenResult, promptLen int) error {
	if len(g.LogProbs) != len(g.Tokens) || len(g.Entropies) != len(g.Tokens) {
		return fmt.Errorf("generate returned %d tokens, %d log-probs, %d entropies", len(g.Tokens), len(g.LogProbs), len(g.Entropies))
	}
	si := len(e.seqs) - 1
	e.seqs[si] = append(e.seqs[si][:promptLen:promptLen], g.Tokens...)
	e.turns = append(e.turns, turnRec{seq: si, start: promptLen, n: len(g.Tokens), lpS: g.LogProbs, ent: g.Entropies})
	if n := len(g.Tokens); n > 0 && lm.IsEOG(g.Tokens[n-1]) {
		e.pendingEOG = lm.Detokenize(g.Tokens[n-1:], true)
	}
	action, ok := env.ParseAction(g.Text)
	res, err := e.ep.Step(action)
	if err != nil {
		return fmt.Errorf("env step: %w", err)
	}
	if !ok || res.Info.Invalid {
		e.invalid++
		e.turns[len(e.turns)-1].invalid = true
	}
	e.history = append(e.history, envs.Turn{Obs: e.obs, Reply: g.Text})
	e.obs = res.Observation
	e.won, e.score, e.done = res.Info.Won, res.Info.Score, res.Done
	if g.Stop == "context" {
		e.done, e.truncated = true, true
	}
	return nil
}

// actionTokens counts the episode's sampled tokens.
func (e *episode) actionTokens() int {
	n := 0
	for _, t := range e.turns {
		n += t.n
	}
	return n
}
