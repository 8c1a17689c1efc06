package trainer

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/atod-dev/atod/trainer/rundir"
)

// RunAdapter returns the adapter of a run's latest checkpoint and the run's student model.
func RunAdapter(runDir string) (adapter, student string, err error) {
	dir, _, err := rundir.LatestCheckpoint(runDir)
	if err != nil {
		return "", "", err
	}
	cfg, err := RunConfig(runDir)
	if err != nil {
		return "", "", err
	}
	return filepath.Join(dir, rundir.WeightsFile), cfg.Student.Model, nil
}

// RunConfig is the resolved config a run directory was started with.
func RunConfig(runDir string) (Config, error) {
	cfg := DefaultConfig()
	data, err := os.ReadFile(filepath.Join(runDir, rundir.ConfigFile))
	if err != nil {
		return cfg, err
	}
	if err := decodeStrict(string(data), &cfg); err != nil {
		return cfg, fmt.Errorf("%s: %w", filepath.Join(runDir, rundir.ConfigFile), err)
	}
	return cfg, nil
}

// DescribeRun is the env and method of a run directory (view.Describe).
func DescribeRun(runDir string) (env, method string, err error) {
	cfg, err := RunConfig(runDir)
	if err != nil {
		return "", "", err
	}
	return cfg.Env.Name, cfg.Method, nil
}

// RunEvalSeed is the seed of a run directory's held-out tasks (compare.EvalSeed).
func RunEvalSeed(runDir string) (int64, error) {
	cfg, err := RunConfig(runDir)
	return cfg.EvalSeed(), err
}
