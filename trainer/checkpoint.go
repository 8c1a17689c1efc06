package trainer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/atod-dev/atod/model"
)

// checkpointInfo is ckpt/step-N/trainer.json.
type checkpointInfo struct {
	Step         int    `json:"step"`
	ConfigHash   string `json:"config_hash"`
	SkippedTotal int    `json:"skipped_total"`
}

const (
	weightsFile = "adapter.gguf" // the trained weights: a LoRA adapter (a whole model in full-weights mode)
	stateFile   = "state.bin"
	infoFile    = "trainer.json"
)

// saveCheckpoint writes ckpt/step-N in a temp dir, renames it into place and
// then points ckpt/latest at it, each an atomic rename: a kill at any moment
// leaves the previous checkpoint intact and reachable.
func saveCheckpoint(runDir string, l model.Learner, info checkpointInfo) error {
	root := filepath.Join(runDir, "ckpt")
	name := fmt.Sprintf("step-%d", info.Step)
	tmp := filepath.Join(root, ".tmp-"+name)
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	if err := l.SaveWeights(filepath.Join(tmp, weightsFile)); err != nil {
		return fmt.Errorf("checkpoint weights: %w", err)
	}
	if err := l.SaveState(filepath.Join(tmp, stateFile)); err != nil {
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

func hasCheckpoint(runDir string) bool {
	_, err := os.Stat(filepath.Join(runDir, "ckpt", "latest"))
	return err == nil
}

// latestCheckpoint returns the directory and info of the newest checkpoint.
func latestCheckpoint(runDir string) (string, checkpointInfo, error) {
	var info checkpointInfo
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

// RunAdapter returns the adapter of a run's latest checkpoint and the run's student model.
func RunAdapter(runDir string) (adapter, student string, err error) {
	dir, _, err := latestCheckpoint(runDir)
	if err != nil {
		return "", "", err
	}
	cfg, err := RunConfig(runDir)
	if err != nil {
		return "", "", err
	}
	return filepath.Join(dir, weightsFile), cfg.Student.Model, nil
}

// RunConfig is the resolved config a run directory was started with.
func RunConfig(runDir string) (Config, error) {
	cfg := DefaultConfig()
	data, err := os.ReadFile(filepath.Join(runDir, "config.toml"))
	if err != nil {
		return cfg, err
	}
	if err := decodeStrict(string(data), &cfg); err != nil {
		return cfg, fmt.Errorf("%s: %w", filepath.Join(runDir, "config.toml"), err)
	}
	return cfg, nil
}
