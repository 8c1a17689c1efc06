package webshop

import "strings"

// product is one catalog entry, with the fields WebShop's reward reads.
type product struct {
	ASIN            string
	Query           string // the search that found it (WebShop) or its product type (generated)
	ProductCategory string // levels joined by " › "
	Title           string
	Description     string
	Features        []string // WebShop's BulletPoints
	Attributes      []string
	OptionNames     []string            // in display order
	Options         map[string][]string // lowercase values
	Price           float64
}

// goal is one instruction: what the target product was, and what is asked.
type goal struct {
	ASIN            string
	Query           string
	Name            string // the target's title
	ProductCategory string
	Instruction     string
	Attributes      []string
	Options         []string // option values asked for
	PriceUpper      float64  // 0: no bound
}

// rewardParts is the breakdown, kept for tests and the info string.
type rewardParts struct {
	TitleScore              float64
	QueryMatch, CatMatch    bool
	RType                   float64
	AttrMatches, OptMatches int
	PriceOK                 bool
}

// reward is WebShop's get_reward (engine/goal.py):
// R = r_type · (n_attr + n_opt + r_price) / (|attrs| + |opts| + 1).
func reward(p *product, g *goal, price float64, chosen []string) (float64, rewardParts) {
	var r rewardParts
	// r_type: query, ≥2 shared category levels, or the share of the goal title's nouns in the bought title.
	r.QueryMatch = p.Query == g.Query
	r.CatMatch = len(intersect(categoryLevels(p.ProductCategory), categoryLevels(g.ProductCategory))) >= 2
	want, got := nouns(g.Name), nouns(p.Title)
	if len(want) == 0 {
		r.TitleScore = 0.2
	} else {
		n := 0
		for t := range want {
			if got[t] {
				n++
			}
		}
		r.TitleScore = float64(n) / float64(len(want))
	}
	r.RType = 1
	if !(r.QueryMatch || r.CatMatch || r.TitleScore > 0.2) {
		r.RType = 0.5
	}
	if r.TitleScore < 0.1 {
		r.RType = 0.1
	}
	if r.TitleScore == 0 {
		r.RType = 0
	}
	// Attributes: a fuzzy match against the product's attributes, else a substring of title, bullets or description.
	for _, ga := range g.Attributes {
		matched := false
		for _, pa := range p.Attributes {
			if tokenSetRatio(pa, ga) > 85 {
				matched = true
				break
			}
		}
		if !matched && (strings.Contains(strings.ToLower(p.Title), ga) ||
			strings.Contains(strings.ToLower(strings.Join(p.Features, " ")), ga) ||
			strings.Contains(strings.ToLower(p.Description), ga)) {
			matched = true
		}
		if matched {
			r.AttrMatches++
		}
	}
	// Options: fuzzy match after color normalisation.
	for _, go_ := range g.Options {
		gn := normalizeColor(go_)
		for _, c := range chosen {
			if tokenSetRatio(normalizeColor(c), gn) > 85 {
				r.OptMatches++
				break
			}
		}
	}
	r.PriceOK = g.PriceUpper <= 0 || price <= g.PriceUpper
	rPrice := 0.0
	if r.PriceOK {
		rPrice = 1
	}
	total := (float64(r.AttrMatches+r.OptMatches) + rPrice) / float64(len(g.Attributes)+len(g.Options)+1)
	return total * r.RType, r
}

func categoryLevels(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "›") {
		out = append(out, strings.TrimSpace(l))
	}
	return out
}

func intersect(a, b []string) map[string]bool {
	in := map[string]bool{}
	for _, x := range a {
		in[x] = true
	}
	out := map[string]bool{}
	for _, x := range b {
		if in[x] {
			out[x] = true
		}
	}
	return out
}
