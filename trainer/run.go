// Package trainer is an ATOD run: the config (one set of defaults, validated per
// command), the step loop (rollouts, teacher scoring, token weights, one
// optimizer step, weights handed to the sampler), held-out evaluation,
// checkpoints and exact resume, metrics.jsonl, report.md with its plots, and
// progress. It reaches models only through model.LM and model.Learner, opened
// by an Opener: native.Open in the atod command, fakes in tests.
package trainer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/trainer/report"
	"github.com/atod-dev/atod/trainer/rollout"
	"github.com/atod-dev/atod/trainer/rundir"
	"github.com/atod-dev/atod/trainer/scoring"
)

// RunOptions are the parts of a run that are not in the config.
type RunOptions struct {
	Open   Opener   // native.Open, or fakes in tests
	Env    envs.Env // nil = envs.New(cfg.Env.Name, cfg.Env.Options)
	Resume bool     // continue cfg.OutDir from its last checkpoint
	Log    io.Writer
	// StopAfter ends the run after that step, as if it were killed (tests).
	StopAfter int
	// Stop, when closed, stops the run at the end of the current phase, with a
	// checkpoint of the last complete step (StopOnSignal makes one).
	Stop <-chan struct{}
}

// Summary is what a finished run reports.
type Summary struct {
	RunDir, Report string
	Steps          int
	FinalSuccess   float64 // last held-out student success (−1 without eval)
	Interrupted    bool    // stopped by RunOptions.Stop; Steps is the last complete step
}

// Run trains cfg.Steps steps of ATOD (or resumes them) and writes the run
// directory: config.toml, metrics.jsonl, ckpt/, report.md.
func Run(cfg *Config, o RunOptions) (*Summary, error) {
	if o.Open == nil {
		return nil, errors.New("run: no model opener")
	}
	if o.Log == nil {
		o.Log = os.Stdout
	}
	env := o.Env
	if env == nil {
		var err error
		if env, err = envs.New(cfg.Env.Name, cfg.Env.Options); err != nil {
			return nil, err
		}
	}
	from, ckptDir, err := prepareDir(cfg, o.Resume)
	if err != nil {
		return nil, err
	}
	start := from.Step

	nseq := cfg.Rollout.TasksPerStep * cfg.Rollout.GroupSize
	models, err := o.Open(cfg, Need{Student: true, Teacher: true, Learner: true, NSeq: nseq})
	if err != nil {
		return nil, err
	}
	defer models.Close()
	for _, n := range models.Notes {
		fmt.Fprintln(o.Log, n)
	}
	if ckptDir != "" {
		if err := models.Learner.LoadState(filepath.Join(ckptDir, rundir.StateFile)); err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
		if err := models.Student.LoadWeights(filepath.Join(ckptDir, rundir.WeightsFile)); err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
	}
	ev, err := cfg.Evaluator(env, cfg.Eval.Split, cfg.Eval.Tasks, cfg.EvalSeed(), cfg.Eval.Temperature)
	if err != nil {
		return nil, err
	}
	s := &session{cfg: cfg, models: models, ev: ev, prog: newProgress(o.Log, start, cfg.Steps),
		sum:     &Summary{RunDir: cfg.OutDir, Report: filepath.Join(cfg.OutDir, rundir.ReportFile), FinalSuccess: -1},
		skipped: from.SkippedTotal, checkpointed: start}
	if t := cfg.Eval.SampledTemperature; t > 0 {
		s.sampled = ev.At(cfg, t)
	}
	if start == 0 && len(ev.Tasks) > 0 {
		if cfg.Eval.Teacher {
			if err := s.evaluate(0, "teacher", models.Teacher); err != nil {
				return nil, err
			}
		}
		if err := s.evaluate(0, "student", models.Student); err != nil {
			return nil, err
		}
	}

	stopped := func() bool {
		select {
		case <-o.Stop:
			return true
		default:
			return false
		}
	}
	if stopped() {
		return s.interrupt(start)
	}
	// How trained weights first reach the student (every step in full-weights
	// mode); LoRA weights then go in memory (Models.SyncWeights).
	weightsPath := filepath.Join(s.cfg.OutDir, ".weights.gguf")
	for step := start + 1; step <= cfg.Steps; step++ {
		m, err := trainStep(cfg, env, models, step, weightsPath, stopped, s.prog)
		if errors.Is(err, ErrInterrupted) {
			return s.interrupt(step - 1)
		}
		if errors.Is(err, scoring.ErrUnavailable) {
			return s.teacherDown(step, err)
		}
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", step, err)
		}
		if m.Skipped {
			s.skipped++
			s.prog.log("step %d: non-finite loss or gradient, update skipped (%d so far)", step, s.skipped)
		}
		m.SkippedTotal = s.skipped
		if m.EnvFailures > 0 {
			s.prog.log("step %d: the env failed %d episode attempts (%d replayed); %d groups left out", step, m.EnvFailures, m.EnvRetries, m.GroupsDrop)
		}
		if err := rundir.AppendJSONL(s.metricsPath(), m); err != nil {
			return nil, err
		}
		s.prog.step(step, fmt.Sprintf("λ %.2f succ %.2f ret %.2f kl %.3f loss %.4f %.0f tok/s", m.Lambda, m.Success, m.MeanReturn, m.ReverseKL, m.Loss, m.TokensPerS))
		last := step == cfg.Steps
		if len(ev.Tasks) > 0 && (last || cfg.Eval.Every > 0 && step%cfg.Eval.Every == 0) {
			if err := s.evaluate(step, "student", models.Student); err != nil {
				return nil, err
			}
		}
		if last || cfg.Checkpoint.Every > 0 && step%cfg.Checkpoint.Every == 0 {
			if err := s.checkpoint(step); err != nil {
				return nil, err
			}
		}
		s.sum.Steps = step
		if stopped() && !last {
			return s.interrupt(step)
		}
		if step == o.StopAfter {
			s.prog.done()
			return s.sum, ErrStopped
		}
	}
	s.prog.done()
	if err := report.Write(s.cfg.OutDir); err != nil {
		return nil, err
	}
	s.sum.Steps = max(s.sum.Steps, start)
	return s.sum, nil
}

// prepareDir makes cfg.OutDir ready for a new run, or for resuming the one it
// holds: the last checkpoint found, metrics and episodes after it dropped. It
// returns where the run starts from and the checkpoint's directory ("" when new).
func prepareDir(cfg *Config, resume bool) (rundir.Checkpoint, string, error) {
	dir := cfg.OutDir
	metricsPath := filepath.Join(dir, rundir.MetricsFile)
	if resume && !rundir.HasCheckpoint(dir) {
		// Killed before its first checkpoint: nothing to keep, start over.
		if err := os.Remove(metricsPath); err != nil && !os.IsNotExist(err) {
			return rundir.Checkpoint{}, "", err
		}
		resume = false
	}
	var info rundir.Checkpoint
	ckptDir := ""
	if resume {
		d, i, err := rundir.LatestCheckpoint(dir)
		if err != nil {
			return info, "", fmt.Errorf("resume: %w", err)
		}
		if i.ConfigHash != cfg.Hash() {
			return info, "", fmt.Errorf("resume %s: the config differs from the checkpoint's (hash %s, checkpoint %s); on resume only %s may change", dir, cfg.Hash(), i.ConfigHash, strings.Join(ResumeKeys, ", "))
		}
		if err := rundir.TruncateMetrics(metricsPath, i.Step); err != nil {
			return info, "", err
		}
		if err := rundir.DropEpisodesAfter(dir, i.Step); err != nil {
			return info, "", fmt.Errorf("resume: %w", err)
		}
		info, ckptDir = i, d
	} else {
		if _, err := os.Stat(metricsPath); err == nil {
			return info, "", fmt.Errorf("%s already holds a run; use --resume %s or another out_dir", dir, dir)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return info, "", err
		}
	}
	resolved, err := cfg.Encode()
	if err != nil {
		return info, "", err
	}
	if err := rundir.WriteFileAtomic(filepath.Join(dir, rundir.ConfigFile), resolved); err != nil {
		return info, "", err
	}
	return info, ckptDir, nil
}

// session is what a run carries from step to step besides the models' own state.
type session struct {
	cfg          *Config
	models       *Models
	ev           *Evaluator // the held-out tasks at eval.temperature
	sampled      *Evaluator // the same tasks at eval.sampled_temperature; nil when off
	prog         *progress
	sum          *Summary
	skipped      int // updates skipped so far (non-finite loss or gradient)
	checkpointed int // the last step with a checkpoint
}

func (s *session) metricsPath() string { return filepath.Join(s.cfg.OutDir, rundir.MetricsFile) }

// evaluate plays the held-out tasks with lm, at eval.temperature and, when
// set, at eval.sampled_temperature, and appends each result to metrics.jsonl.
func (s *session) evaluate(step int, who string, lm model.LM) error {
	r, err := s.play(s.ev, step, who, lm, rundir.EpisodePath(s.cfg.OutDir, "eval", step, who))
	if err != nil {
		return err
	}
	if who == "student" {
		s.sum.FinalSuccess = r.Success
	}
	if s.sampled == nil {
		return nil
	}
	_, err = s.play(s.sampled, step, who, lm, rundir.SampledEvalPath(s.cfg.OutDir, step, who, s.sampled.Temperature))
	return err
}

// play is one evaluation: ev's tasks played by lm, its episodes recorded to
// path (record.eval), its line appended to metrics.jsonl.
func (s *session) play(ev *Evaluator, step int, who string, lm model.LM, path string) (rollout.EvalResult, error) {
	cfg := s.cfg
	r, err := ev.Play(lm)
	if err != nil {
		return r, fmt.Errorf("eval %s at step %d, temperature %g: %w", who, step, ev.Temperature, err)
	}
	if cfg.Record.Eval {
		recs := records(step, "eval", who, r.Played, cfg.Rollout.InvalidPenalty, piece(lm), nil, nil)
		if err := rundir.WriteEpisodes(path, recs); err != nil {
			return r, fmt.Errorf("record eval episodes: %w", err)
		}
	}
	failed := ""
	if r.Failed > 0 {
		failed = fmt.Sprintf(", %d failed by the env and left out", r.Failed)
	}
	label := who
	if ev.Temperature > 0 {
		label += fmt.Sprintf(" at temperature %g", ev.Temperature)
	}
	s.prog.log("eval step %d %s: success %.3f return %.3f (%d tasks%s, %.1fs)", step, label, r.Success, r.MeanReturn, r.Tasks, failed, r.Seconds)
	return r, rundir.AppendJSONL(s.metricsPath(), rundir.EvalMetrics{Kind: "eval", Step: step, Model: who, Split: cfg.Eval.Split, Temperature: ev.Temperature,
		Tasks: r.Tasks, Success: r.Success, MeanReturn: r.MeanReturn, EpisodeLen: r.EpisodeLen, InvalidRate: r.InvalidRate, Failed: r.Failed,
		Won: wonString(r.Played), Types: ev.Types, Seconds: r.Seconds})
}

// checkpoint saves step's learner state and weights, and rewrites the report.
func (s *session) checkpoint(step int) error {
	info := rundir.Checkpoint{Step: step, ConfigHash: s.cfg.Hash(), SkippedTotal: s.skipped}
	if err := rundir.SaveCheckpoint(s.cfg.OutDir, s.models.Learner, info); err != nil {
		return fmt.Errorf("checkpoint step %d: %w", step, err)
	}
	s.checkpointed = step
	return report.Write(s.cfg.OutDir)
}

// interrupt ends the run after step done, everything up to it kept.
func (s *session) interrupt(done int) (*Summary, error) {
	s.prog.done()
	if done > s.checkpointed {
		if err := s.checkpoint(done); err != nil { // writes the report too
			return nil, err
		}
	} else if err := report.Write(s.cfg.OutDir); err != nil {
		return nil, err
	}
	s.sum.Steps, s.sum.Interrupted = done, true
	return s.sum, ErrInterrupted
}

// teacherDown ends the run when the teacher server stayed down through its
// retries in step: nothing of that step is learnt, the step before it is
// checkpointed, and the error says how to go on.
func (s *session) teacherDown(step int, cause error) (*Summary, error) {
	if _, err := s.interrupt(step - 1); !errors.Is(err, ErrInterrupted) {
		return nil, err
	}
	return s.sum, fmt.Errorf("step %d: %w\nsteps up to %d are checkpointed; once the teacher server is back, continue with: atod run --resume %s",
		step, cause, step-1, s.cfg.OutDir)
}

var (
	// ErrStopped is returned when RunOptions.StopAfter cut the run short.
	ErrStopped = errors.New("run stopped by StopAfter")
	// ErrInterrupted is returned, with the Summary, when RunOptions.Stop stopped the run.
	ErrInterrupted = errors.New("run interrupted")
)
