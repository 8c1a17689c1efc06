package trainer

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/atod-dev/atod/trainer/atod"
	"github.com/atod-dev/atod/trainer/rollout"
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
	TDUR        short         `json:"tdur"` // the turn's T-DUR weight w_k (1 in evaluations)
	Tokens      []TokenRecord `json:"tokens"`
}

// TokenRecord is one action token: its text, the student's log-prob at
// sampling, the teacher's (training only) and the weight A(t) handed to the
// train step (training only).
type TokenRecord struct {
	Piece string `json:"p"`
	LpS   short  `json:"s"`
	LpT   short  `json:"t"`
	W     short  `json:"w"`
}

// short is a figure for display, kept to 4 significant digits (NaN and ±Inf
// as null) so that recording stays small.
type short float32

func (f short) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, float64(f), 'g', 4, 32), nil
}

// records turns played episodes into records; weights and turnW are the
// batch's per-token weights and T-DUR weights (nil for evaluations).
func records(step int, kind, who string, eps []*rollout.Episode, penalty float64, piece func(int32) string,
	weights [][][]float32, turnW [][]float64) []EpisodeRecord {
	out := make([]EpisodeRecord, len(eps))
	for i, e := range eps {
		r := EpisodeRecord{Step: step, Kind: kind, Model: who, Task: e.Task.ID, Group: e.TaskIdx, Rollout: e.Rollout,
			Won: e.Won, Score: e.Score, Return: atod.EpisodeReturn(e.Score, e.Invalid, penalty), Last: e.Obs.Text}
		for k, t := range e.Turns {
			tr := TurnRecord{Invalid: t.Invalid, TDUR: 1}
			if k < len(e.History) {
				tr.Observation, tr.Reply = e.History[k].Obs.Text, e.History[k].Reply
			}
			if turnW != nil {
				tr.TDUR = short(turnW[i][k])
			}
			for j := 0; j < t.N; j++ {
				tok := TokenRecord{Piece: piece(e.Seqs[t.Seq][t.Start+j]), LpS: short(t.LpS[j])}
				if t.LpT != nil {
					tok.LpT = short(t.LpT[j])
				}
				if weights != nil {
					tok.W = short(weights[i][k][j])
				}
				tr.Tokens = append(tr.Tokens, tok)
			}
			r.Turns = append(r.Turns, tr)
		}
		out[i] = r
	}
	return out
}

// Episode files: episodes/train-STEP.jsonl.gz and episodes/eval-STEP-MODEL.jsonl.gz,
// one gzip'd JSON line per episode, each file written whole and atomically.
var episodeFile = regexp.MustCompile(`^(train|eval)-(\d{6})(-(student|teacher))?\.jsonl\.gz$`)

func episodePath(runDir, kind string, step int, who string) string {
	name := fmt.Sprintf("train-%06d.jsonl.gz", step)
	if kind == "eval" {
		name = fmt.Sprintf("eval-%06d-%s.jsonl.gz", step, who)
	}
	return filepath.Join(runDir, "episodes", name)
}

func writeEpisodes(path string, recs []EpisodeRecord) error {
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

// dropEpisodesAfter removes the episode files of steps after step: a resumed
// run records them again.
func dropEpisodesAfter(runDir string, step int) error {
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
