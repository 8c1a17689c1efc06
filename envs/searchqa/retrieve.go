package searchqa

import (
	"fmt"
	"strings"

	"github.com/atod-dev/atod/envs/bm25"
	"github.com/atod-dev/atod/envs/httpjson"
)

type retriever interface {
	retrieve(query string, k int) ([]passage, error)
}

type bm25Retriever struct {
	passages []passage
	index    *bm25.Index
}

func (r *bm25Retriever) retrieve(query string, k int) ([]passage, error) {
	var out []passage
	for _, d := range r.index.Search(query, k) {
		out = append(out, r.passages[d])
	}
	return out, nil
}

// serverRetriever asks a Search-R1-style retrieval server (POST /retrieve).
// search-r1: {"queries":[q],"topk":k,"return_scores":true}; verl-agent sends
// {"query":q,…}. Both answer {"result":[[{"document":{"id","contents"},"score"}…]]},
// contents being "\"Title\"\ntext".
type serverRetriever struct {
	url   string
	style string
	http  *httpjson.Client
}

type retrieveResponse struct {
	Result [][]struct {
		Document struct {
			ID       string `json:"id"`
			Contents string `json:"contents"`
		} `json:"document"`
		Score float64 `json:"score"`
	} `json:"result"`
}

func (r *serverRetriever) retrieve(query string, k int) ([]passage, error) {
	body := map[string]any{"topk": k, "return_scores": true}
	if r.style == "verl-agent" {
		body["query"] = query
	} else {
		body["queries"] = []string{query}
	}
	var resp retrieveResponse
	if err := r.http.Do("POST", r.url, body, &resp); err != nil {
		return nil, err
	}
	if len(resp.Result) == 0 {
		return nil, fmt.Errorf("retrieve %s: empty result", r.url)
	}
	var out []passage
	for _, d := range resp.Result[0] {
		title, text, _ := strings.Cut(d.Document.Contents, "\n")
		out = append(out, passage{Title: strings.Trim(title, `"`), Text: text})
	}
	return out, nil
}
