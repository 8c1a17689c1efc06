package sft

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/trainer"
	"github.com/atod-dev/atod/trainer/rollout"
)

// Options are the behaviour-cloning settings that a trainer.Config has no key
// for. The config supplies the rest: student.model (the model trained), env,
// rollout (prompt rendering, max_turns, context = longest sequence), sampling
// (max_tokens for the evaluation), lora (full_weights or LoRA), optim, seed.
type Options struct {
	Out        string      // where the trained model (full weights) or adapter (LoRA) is written
	Tasks      int         // oracle demos from the train split
	Play       DemoOptions // how the oracle plays; Run sets its MaxTurns and Seed from the config
	Epochs     int
	Batch      int // sequences per optimizer step
	EvalTasks  int // held-out tasks, greedy; 0 = no evaluation
	EvalSplit  string
	EvalSeed   int64 // draws the held-out tasks
	EvalEvery  int   // epochs between evaluations, and one before training; 0 = only after the last
	Log        io.Writer
	MaxEvalSeq int // parallel sequences of the evaluation context (default 16)
}

// EpochStats is one epoch's mean loss over its masked-in tokens.
type EpochStats struct {
	Epoch   int
	Loss    float64
	Tokens  int
	Skipped int // steps the learner skipped (non-finite loss or gradient)
	Seconds float64
}

// Result is what a behaviour-cloning run measured.
type Result struct {
	Demos, Lost, Cut, Seqs, Steps int
	Epochs                        []EpochStats
	Evals                         []Eval
}

// Eval is a held-out evaluation after an epoch (0 = before training).
type Eval struct {
	Epoch int
	rollout.EvalResult
}

// StepsFor is the number of optimizer steps a run of o takes on n sequences;
// the learner's learning-rate schedule needs it up front.
func StepsFor(o Options, n int) int { return o.Epochs * ((n + o.Batch - 1) / o.Batch) }

// Run clones the oracle of cfg.Env into cfg.Student.Model and writes the
// result to o.Out. open loads the models (native.Open in the CLI).
func Run(cfg *trainer.Config, o Options, open trainer.Opener) (*Result, error) {
	if o.Tasks < 1 || o.Epochs < 1 || o.Batch < 1 || o.Out == "" {
		return nil, fmt.Errorf("sft: want tasks, epochs, batch ≥ 1 and an output path (got %d, %d, %d, %q)", o.Tasks, o.Epochs, o.Batch, o.Out)
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	env, err := envs.New(cfg.Env.Name, cfg.Env.Options)
	if err != nil {
		return nil, err
	}
	tasks, err := env.Tasks("train", o.Tasks, cfg.Seed)
	if err != nil {
		return nil, fmt.Errorf("train tasks: %w", err)
	}
	o.Play.MaxTurns, o.Play.Seed = cfg.Rollout.MaxTurns, cfg.Seed
	demos, lost, err := Demos(env, tasks, o.Play)
	if err != nil {
		return nil, err
	}
	if len(demos) == 0 {
		return nil, fmt.Errorf("sft: the oracle won none of %d tasks within %d turns", len(tasks), cfg.Rollout.MaxTurns)
	}
	pc := cfg.Prompt()
	nseq := len(demos)
	if pc.History == "last" {
		nseq = 0
		for _, d := range demos {
			nseq += len(d.Turns)
		}
	}
	run := *cfg
	run.Steps = StepsFor(o, nseq)
	nEval := o.MaxEvalSeq
	if nEval < 1 {
		nEval = 16
	}
	nEval = min(nEval, max(1, o.EvalTasks))
	models, err := open(&run, trainer.Need{Student: true, Learner: true, NSeq: nEval})
	if err != nil {
		return nil, err
	}
	defer models.Close()

	res := &Result{Demos: len(demos), Lost: lost, Steps: run.Steps}
	var seqs []model.TrainSeq
	for _, d := range demos {
		s, cut, err := Sequences(models.Student, env, pc, d, run.Rollout.Context)
		if err != nil {
			return nil, fmt.Errorf("demo %s: %w", d.Task.ID, err)
		}
		seqs = append(seqs, s...)
		res.Cut += cut
	}
	res.Seqs = len(seqs)
	ntok := 0
	for _, s := range seqs {
		ntok += len(s.Tokens)
	}
	fmt.Fprintf(o.Log, "sft: %d oracle demos (%d lost), %d sequences of %d tokens on average (%d cut to %d), %d steps\n",
		len(demos), lost, len(seqs), ntok/len(seqs), res.Cut, run.Rollout.Context, run.Steps)

	ev, err := run.Evaluator(env, o.EvalSplit, o.EvalTasks, o.EvalSeed, 0)
	if err != nil {
		return nil, err
	}
	evaluate := func(epoch int) error {
		r, err := ev.Play(models.Student)
		if err != nil {
			return fmt.Errorf("eval after epoch %d: %w", epoch, err)
		}
		res.Evals = append(res.Evals, Eval{Epoch: epoch, EvalResult: r})
		fmt.Fprintf(o.Log, "eval epoch %d: success %.3f return %.3f invalid %.3f len %.1f (%d %s tasks, %.1fs)\n",
			epoch, r.Success, r.MeanReturn, r.InvalidRate, r.EpisodeLen, r.Tasks, o.EvalSplit, r.Seconds)
		return nil
	}
	if len(ev.Tasks) > 0 && o.EvalEvery > 0 {
		if err := evaluate(0); err != nil {
			return nil, err
		}
	}
	for e := 1; e <= o.Epochs; e++ {
		st, err := epoch(models.Learner, seqs, o.Batch, run.Optim.MicroTokens, rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(e))),
			func(done, total int, loss float64) {
				fmt.Fprintf(o.Log, "epoch %d: step %d/%d, loss %.4f so far\n", e, done, total, loss)
			})
		if err != nil {
			return nil, fmt.Errorf("epoch %d: %w", e, err)
		}
		st.Epoch = e
		res.Epochs = append(res.Epochs, st)
		fmt.Fprintf(o.Log, "epoch %d: loss %.4f (%d tokens, %d skipped steps, %.1fs)\n", e, st.Loss, st.Tokens, st.Skipped, st.Seconds)
		last := e == o.Epochs
		if !last && (len(ev.Tasks) == 0 || o.EvalEvery == 0 || e%o.EvalEvery != 0) {
			continue
		}
		// Full weights: Out is a whole model; LoRA: an adapter over the base.
		// Written every time: the student may take later weights in memory.
		if err := models.Learner.SaveWeights(o.Out); err != nil {
			return nil, fmt.Errorf("save %s: %w", o.Out, err)
		}
		if len(ev.Tasks) > 0 {
			if err := models.SyncWeights(o.Out); err != nil {
				return nil, fmt.Errorf("%s: %w", o.Out, err)
			}
			if err := evaluate(e); err != nil {
				return nil, err
			}
		}
	}
	return res, nil
}

// epoch takes one optimizer step per batch of a shuffled pass over seqs,
// calling progress about every progressEvery with the mean loss so far.
func epoch(l model.Learner, seqs []model.TrainSeq, batch, micro int, rng *rand.Rand,
	progress func(done, total int, loss float64)) (EpochStats, error) {
	start := time.Now()
	lastShown := start
	total := (len(seqs) + batch - 1) / batch
	order := rng.Perm(len(seqs))
	var st EpochStats
	sum := 0.0
	for lo := 0; lo < len(order); lo += batch {
		var b []model.TrainSeq
		for _, i := range order[lo:min(len(order), lo+batch)] {
			b = append(b, seqs[i])
		}
		s, err := l.Step(trainer.MicroBatches(b, micro))
		if err != nil {
			return st, err
		}
		if s.Skipped {
			st.Skipped++
			continue
		}
		sum += float64(s.Loss) * float64(s.Tokens)
		st.Tokens += s.Tokens
		if done := lo/batch + 1; done < total && time.Since(lastShown) >= progressEvery {
			progress(done, total, sum/float64(st.Tokens))
			lastShown = time.Now()
		}
	}
	if st.Tokens == 0 {
		return st, errors.New("every step was skipped (non-finite loss or gradients)")
	}
	st.Loss = sum / float64(st.Tokens)
	st.Seconds = time.Since(start).Seconds()
	return st, nil
}

// progressEvery spaces the progress lines of a long epoch.
const progressEvery = 30 * time.Second
