package rundir

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/atod-dev/atod/model"
)

// Checkpoint is ckpt/step-N/trainer.json: the step it was saved after, the
// hash of the config keys a resume must keep, and the steps skipped so far.
type Checkpoint struct {
	Step         int    `json:"step"`
	ConfigHash   string `json:"config_hash"`
	SkippedTotal int    `json:"skipped_total"`
}

// A checkpoint directory's files.
const (
	WeightsFile = "adapter.gguf" // the trained weights: a LoRA adapter (a whole model in full-weights mode)
	StateFile   = "state.bin"    // the learner's optimizer state
	infoFile    = "trainer.json" // the Checkpoint
)

// SaveCheckpoint writes ckpt/step-N in a temp dir, renames it into place and
// then points ckpt/latest at it, each an atomic rename: a kill at any moment
// leaves the previous checkpoint intact and reachable.
func SaveCheckpoint(runDir string, l model.Learner, info Checkpoint) error {
	root := filepath.Join(runDir, "ckpt")
	name := fmt.Sprintf("step-%d", info.Step)
	tmp := filepath.Join(root, ".tmp-"+name)
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	if err := l.SaveWeights(filepath.Join(tmp, WeightsFile)); err != nil {
		return fmt.Errorf("checkpoint weights: %w", err)
	}
	if err := l.SaveState(filepath.Join(tmp, StateFile)); err != nil {
		return fmt.Errorf("checkpoint state: %w", err)
	}
	b, _ := json.MarshalIndent(info, "", "  ")
	if err := WriteFileAtomic(filepath.Join(tmp, infoFile), b); err != nil {
		return err
	}
	final := filepath.Join(root, name)
	if err := os.RemoveAll(final); err != nil { // a resumed run redoing this step
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(root, "latest"), []byte(name+"\n"))
}

// HasCheckpoint says whether runDir holds a checkpoint.
func HasCheckpoint(runDir string) bool {
	_, err := os.Stat(filepath.Join(runDir, "ckpt", "latest"))
	return err == nil
}

// LatestCheckpoint returns the directory and info of the newest checkpoint.
func LatestCheckpoint(runDir string) (string, Checkpoint, error) {
	var info Checkpoint
	b, err := os.ReadFile(filepath.Join(runDir, "ckpt", "latest"))
	if err != nil {
		return "", info, fmt.Errorf("no checkpoint in %s: %w", runDir, err)
	}
	dir := filepath.Join(runDir, "ckpt", strings.TrimSpace(string(b)))
	b, err = os.ReadFile(filepath.Join(dir, infoFile))
	if err != nil {
		return "", info, err
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return "", info, fmt.Errorf("%s: %w", filepath.Join(dir, infoFile), err)
	}
	return dir, info, nil
}
