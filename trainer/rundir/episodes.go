package rundir

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
)

// EpisodeRecord is one recorded episode: what atod view's episode browser shows.
type EpisodeRecord struct {
	Step    int          `json:"step"`
	Kind    string       `json:"kind"`  // "train" | "eval"
	Model   string       `json:"model"` // who played: "student" | "teacher"
	Task    string       `json:"task"`
	Group   int          `json:"group"` // the task's index in the step
	Rollout int          `json:"rollout"`
	Won     bool         `json:"won"`
	Score   float64      `json:"score"`
	Return  float64      `json:"return"` // score − invalid-action penalty
	Turns   []TurnRecord `json:"turns"`
	Last    string       `json:"last_observation"`
}

// TurnRecord is an observation, the reply to it and its action tokens.
type TurnRecord struct {
	Observation string        `json:"observation"`
	Reply       string        `json:"reply"`
	Invalid     bool          `json:"invalid"`
	TDUR        Figure        `json:"tdur"` // the turn's T-DUR weight w_k (1 in evaluations)
	Tokens      []TokenRecord `json:"tokens"`
}

// TokenRecord is one action token: its text, the student's log-prob at
// sampling, the teacher's (training only) and the weight A(t) handed to the
// train step (training only).
type TokenRecord struct {
	Piece string `json:"p"`
	LpS   Figure `json:"s"`
	LpT   Figure `json:"t"`
	W     Figure `json:"w"`
}

// Figure is a figure for display, kept to 4 significant digits (NaN and ±Inf
// as null) so that recording stays small.
type Figure float32

func (f Figure) MarshalJSON() ([]byte, error) {
	return finiteOrNull(float64(f), func(x float64) ([]byte, error) { return strconv.AppendFloat(nil, x, 'g', 4, 32), nil })
}

// Episode files: episodes/train-STEP.jsonl.gz, episodes/eval-STEP-MODEL.jsonl.gz
// and, for eval.sampled_temperature's evaluations, eval-STEP-MODEL-tTEMP.jsonl.gz;
// one gzip'd JSON line per episode, each file written whole and atomically.
var episodeFile = regexp.MustCompile(`^(train|eval)-(\d{6})(-(student|teacher)(-t[0-9.]+)?)?\.jsonl\.gz$`)

// EpisodePath is the file of a step's episodes of kind "train" or "eval" (played by who).
func EpisodePath(runDir, kind string, step int, who string) string {
	name := fmt.Sprintf("train-%06d.jsonl.gz", step)
	if kind == "eval" {
		name = fmt.Sprintf("eval-%06d-%s.jsonl.gz", step, who)
	}
	return filepath.Join(runDir, "episodes", name)
}

// SampledEvalPath is the file of a step's evaluation episodes played by who at
// eval.sampled_temperature, beside EpisodePath's at eval.temperature.
func SampledEvalPath(runDir string, step int, who string, temperature float64) string {
	return filepath.Join(runDir, "episodes", fmt.Sprintf("eval-%06d-%s-t%s.jsonl.gz", step, who, strconv.FormatFloat(temperature, 'f', -1, 64)))
}

// WriteEpisodes writes recs to path, whole and atomically (nothing where recs is empty).
func WriteEpisodes(path string, recs []EpisodeRecord) error {
	if len(recs) == 0 {
		return nil
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	enc := json.NewEncoder(zw)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return WriteFileAtomic(path, b.Bytes())
}

// EpisodeFiles lists a run's episode files (names, oldest step first); a file
// not named as the run names them is not listed.
func EpisodeFiles(runDir string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(runDir, "episodes"))
	if os.IsNotExist(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if episodeFile.MatchString(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// ReadEpisodes reads one episode file of a run by its name (as EpisodeFiles
// lists them); any other name is refused, so a caller cannot reach outside.
func ReadEpisodes(runDir, name string) ([]EpisodeRecord, error) {
	if !episodeFile.MatchString(name) {
		return nil, fmt.Errorf("%q is not an episode file name", name)
	}
	f, err := os.Open(filepath.Join(runDir, "episodes", name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var out []EpisodeRecord
	dec := json.NewDecoder(zr)
	for dec.More() {
		var r EpisodeRecord
		if err := dec.Decode(&r); err != nil {
			return nil, fmt.Errorf("%s: episode %d: %w", name, len(out)+1, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// DropEpisodesAfter removes the episode files of steps after step: a resumed
// run records them again.
func DropEpisodesAfter(runDir string, step int) error {
	names, err := EpisodeFiles(runDir)
	if err != nil {
		return err
	}
	for _, n := range names {
		if s, _ := strconv.Atoi(episodeFile.FindStringSubmatch(n)[2]); s > step {
			if err := os.Remove(filepath.Join(runDir, "episodes", n)); err != nil {
				return err
			}
		}
	}
	return nil
}
