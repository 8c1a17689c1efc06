// Package view is atod view: a local, read-only web page over run
// directories. It draws their curves live (the page polls; the charts are the
// report's, from report.Charts), overlays several runs or groups them by
// method with mean and spread, and browses the recorded episodes with every
// action token coloured by its OPD signal and every turn shaded by its T-DUR
// weight. It serves only the run directories it was given, and the page's
// assets are embedded in the binary.
package view

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/atod-dev/atod/trainer/report"
	"github.com/atod-dev/atod/trainer/rundir"
)

//go:embed static
var static embed.FS

// Server serves the page and its JSON API for a fixed list of run directories.
type Server struct {
	runs     []string
	describe Describe
	mux      *http.ServeMux
}

// Describe names a run directory's env and method, from the config it was
// started with (the trainer reads it).
type Describe func(runDir string) (env, method string, err error)

// New serves dirs; each must be a directory.
func New(dirs []string, describe Describe) (*Server, error) {
	if len(dirs) == 0 {
		return nil, errors.New("view: no run directory")
	}
	s := &Server{describe: describe, mux: http.NewServeMux()}
	for _, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, err
		}
		if st, err := os.Stat(abs); err != nil {
			return nil, fmt.Errorf("view: %w", err)
		} else if !st.IsDir() {
			return nil, fmt.Errorf("view: %s is not a run directory", d)
		}
		s.runs = append(s.runs, abs)
	}
	page, _ := fs.Sub(static, "static")
	s.mux.Handle("GET /", http.FileServerFS(page))
	s.mux.HandleFunc("GET /api/runs", s.listRuns)
	s.mux.HandleFunc("GET /api/charts", s.charts)
	s.mux.HandleFunc("GET /api/runs/{run}/episodes", s.episodeFiles)
	s.mux.HandleFunc("GET /api/runs/{run}/episodes/{file}", s.episodes)
	return s, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Run is one served run as the page lists it.
type Run struct {
	ID     int    `json:"id"`
	Dir    string `json:"dir"`
	Name   string `json:"name"`
	Env    string `json:"env"`
	Method string `json:"method"`
	Error  string `json:"error,omitempty"`
}

func (s *Server) run(i int) Run {
	r := Run{ID: i, Dir: s.runs[i], Name: filepath.Base(s.runs[i])}
	var err error
	if r.Env, r.Method, err = s.describe(s.runs[i]); err != nil {
		r.Error = err.Error()
	}
	return r
}

func (s *Server) listRuns(w http.ResponseWriter, _ *http.Request) {
	out := make([]Run, len(s.runs))
	for i := range s.runs {
		out[i] = s.run(i)
	}
	reply(w, out)
}

// runDir resolves the {run} of a request to one of the served directories.
func (s *Server) runDir(w http.ResponseWriter, id string) (string, bool) {
	i, err := strconv.Atoi(id)
	if err != nil || i < 0 || i >= len(s.runs) {
		fail(w, http.StatusNotFound, fmt.Errorf("no run %q: this server serves runs 0..%d", id, len(s.runs)-1))
		return "", false
	}
	if _, err := os.Stat(s.runs[i]); err != nil {
		fail(w, http.StatusNotFound, fmt.Errorf("run %d: %w", i, err))
		return "", false
	}
	return s.runs[i], true
}

// charts draws the chosen runs (?runs=0,2; all by default), one line per run
// or, with ?group=1, one per env and method.
func (s *Server) charts(w http.ResponseWriter, r *http.Request) {
	ids := []string{}
	if q := r.URL.Query().Get("runs"); q != "" {
		ids = strings.Split(q, ",")
	} else {
		for i := range s.runs {
			ids = append(ids, strconv.Itoa(i))
		}
	}
	var ms []report.RunMetrics
	for _, id := range ids {
		dir, ok := s.runDir(w, id)
		if !ok {
			return
		}
		train, eval, err := rundir.ReadMetrics(dir)
		if err != nil {
			fail(w, http.StatusUnprocessableEntity, err)
			return
		}
		i, _ := strconv.Atoi(id)
		run := s.run(i)
		name := run.Name
		if r.URL.Query().Get("group") == "1" {
			name = strings.TrimSpace(run.Env + " " + run.Method)
		}
		ms = append(ms, report.RunMetrics{Name: name, Train: train, Eval: eval})
	}
	reply(w, report.Charts(ms))
}

func (s *Server) episodeFiles(w http.ResponseWriter, r *http.Request) {
	dir, ok := s.runDir(w, r.PathValue("run"))
	if !ok {
		return
	}
	names, err := rundir.EpisodeFiles(dir)
	if err != nil {
		fail(w, http.StatusInternalServerError, err)
		return
	}
	reply(w, names)
}

func (s *Server) episodes(w http.ResponseWriter, r *http.Request) {
	dir, ok := s.runDir(w, r.PathValue("run"))
	if !ok {
		return
	}
	recs, err := rundir.ReadEpisodes(dir, r.PathValue("file"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fail(w, http.StatusNotFound, err)
	case err != nil && strings.Contains(err.Error(), "not an episode file"):
		fail(w, http.StatusBadRequest, err)
	case err != nil:
		fail(w, http.StatusUnprocessableEntity, err)
	default:
		reply(w, recs)
	}
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}
