package trainer

import (
	"fmt"

	"github.com/atod-dev/atod/model"
)

// Models is what a command needs loaded; any of them may be nil when the
// command does not need it (eval plays one model, sft has no teacher).
type Models struct {
	Student model.LM
	Teacher model.LM
	Learner model.Learner
	Notes   []string // what the opener found worth telling (a padded teacher vocabulary)
}

// Close releases every model, the learner first: it may train over the
// student's loaded weights.
func (m *Models) Close() {
	if m.Learner != nil {
		m.Learner.Close()
	}
	for _, lm := range []model.LM{m.Student, m.Teacher} {
		if lm != nil {
			lm.Close()
		}
	}
}

// Need says which models an Opener must load and how many sequences they serve.
type Need struct {
	Student, Teacher, Learner bool
	NSeq                      int
	Weights                   string // trained weights for the student to load first ("" = none)
}

// Opener loads models for a config: native.Open in the atod command, fakes in tests.
type Opener func(cfg *Config, need Need) (*Models, error)

// loraGiver is a learner that shows its LoRA weights in memory (cgo/learn's).
type loraGiver interface{ LoRA() map[string][]float32 }

// loraTaker is a student that takes them into its loaded adapter (native's).
type loraTaker interface {
	SetLoRA(map[string][]float32) (bool, error)
}

// SyncWeights hands the learner's trained weights to the student: in memory
// when both can (LoRA, once an adapter is loaded), else through the file at path.
func (m *Models) SyncWeights(path string) error {
	if g, ok := m.Learner.(loraGiver); ok {
		if t, ok := m.Student.(loraTaker); ok {
			if w := g.LoRA(); w != nil {
				done, err := t.SetLoRA(w)
				if err != nil {
					return fmt.Errorf("hand over trained weights: %w", err)
				}
				if done {
					return nil
				}
			}
		}
	}
	if err := m.Learner.SaveWeights(path); err != nil {
		return fmt.Errorf("save trained weights: %w", err)
	}
	if err := m.Student.LoadWeights(path); err != nil {
		return fmt.Errorf("load trained weights: %w", err)
	}
	return nil
}
