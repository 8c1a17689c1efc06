package webshop

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/atod-dev/atod/envs"
)

// The real WebShop data, in the formats of its setup.sh downloads.
type rawProduct struct {
	ASIN                 string                              `json:"asin"`
	Query                string                              `json:"query"`
	Name                 string                              `json:"name"`
	ProductCategory      string                              `json:"product_category"`
	FullDescription      string                              `json:"full_description"`
	Pricing              json.RawMessage                     `json:"pricing"`
	SmallDescription     json.RawMessage                     `json:"small_description"`
	CustomizationOptions map[string][]struct{ Value string } `json:"customization_options"`
}

type rawAttrs struct {
	Attributes            []string `json:"attributes"`
	Instruction           string   `json:"instruction"`
	InstructionAttributes []string `json:"instruction_attributes"`
}

type rawHumanGoal struct {
	Instruction           string   `json:"instruction"`
	InstructionAttributes []string `json:"instruction_attributes"`
	InstructionOptions    []string `json:"instruction_options"`
}

var priceRe = regexp.MustCompile(`\$\s*([0-9][0-9,]*\.?[0-9]*)`)

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	return nil
}

// load reads WebShop's products and goals as its engine does (load_products,
// get_synthetic_goals / get_human_goals), with two documented differences: a
// product's price is its lowest listed price (WebShop draws one at random in
// the listed range), and goals are shuffled by our own seeded generator, not
// Python's random with seed 233; the first testGoals are the test split.
func (ws *WebShop) load(productsFile, attrsFile, humanFile string, testGoals int) error {
	var raw []rawProduct
	if err := readJSON(productsFile, &raw); err != nil {
		return fmt.Errorf("webshop products: %w", err)
	}
	attrs := map[string]rawAttrs{}
	if attrsFile != "" {
		if err := readJSON(attrsFile, &attrs); err != nil {
			return fmt.Errorf("webshop attributes: %w", err)
		}
	}
	seen := map[string]bool{}
	for _, r := range raw {
		if r.ASIN == "" || r.ASIN == "nan" || len(r.ASIN) > 10 || seen[r.ASIN] {
			continue
		}
		seen[r.ASIN] = true
		p := product{ASIN: r.ASIN, Query: strings.ToLower(strings.TrimSpace(r.Query)), ProductCategory: r.ProductCategory,
			Title: r.Name, Description: r.FullDescription, Options: map[string][]string{}, Price: 100}
		var pricing string
		if json.Unmarshal(r.Pricing, &pricing) == nil {
			if m := priceRe.FindStringSubmatch(pricing); m != nil {
				if f, err := strconv.ParseFloat(strings.ReplaceAll(m[1], ",", ""), 64); err == nil {
					p.Price = f
				}
			}
		}
		var bullets []string
		var bullet string
		if json.Unmarshal(r.SmallDescription, &bullets) != nil && json.Unmarshal(r.SmallDescription, &bullet) == nil && bullet != "" {
			bullets = []string{bullet}
		}
		p.Features = bullets
		for _, name := range sortedKeys(r.CustomizationOptions) {
			var vals []string
			for _, v := range r.CustomizationOptions[name] {
				vals = append(vals, strings.ToLower(strings.ReplaceAll(strings.TrimSpace(v.Value), "/", " | ")))
			}
			if len(vals) > 0 {
				lname := strings.ToLower(name)
				p.OptionNames = append(p.OptionNames, lname)
				p.Options[lname] = vals
			}
		}
		p.Attributes = []string{"DUMMY_ATTR"}
		if a, ok := attrs[r.ASIN]; ok && len(a.Attributes) > 0 {
			p.Attributes = a.Attributes
		}
		ws.products = append(ws.products, p)
	}
	if len(ws.products) == 0 {
		return fmt.Errorf("webshop products: no products in %s", productsFile)
	}
	rng := envs.NewRNG(233, 0x676f616c)
	if humanFile != "" {
		human := map[string][]rawHumanGoal{}
		if err := readJSON(humanFile, &human); err != nil {
			return fmt.Errorf("webshop human goals: %w", err)
		}
		for i := range ws.products {
			p := &ws.products[i]
			for _, h := range human[p.ASIN] {
				if len(h.InstructionAttributes) == 0 {
					continue
				}
				g := goal{ASIN: p.ASIN, Query: p.Query, Name: p.Title, ProductCategory: p.ProductCategory,
					Attributes: h.InstructionAttributes, Options: h.InstructionOptions, PriceUpper: priceUpper(rng, p.Price)}
				g.Instruction = strings.Trim(h.Instruction, ".") + priceText(g.PriceUpper)
				ws.goals = append(ws.goals, g)
			}
		}
	} else {
		for i := range ws.products {
			p := &ws.products[i]
			a, ok := attrs[p.ASIN]
			if !ok || a.Instruction == "" || len(a.InstructionAttributes) == 0 {
				continue
			}
			upper := priceUpper(rng, p.Price)
			for _, combo := range optionCombos(p, 50) {
				var text []string
				for j, name := range p.OptionNames {
					text = append(text, name+": "+combo[j])
				}
				ws.goals = append(ws.goals, goal{ASIN: p.ASIN, Query: p.Query, Name: p.Title, ProductCategory: p.ProductCategory,
					Attributes: a.InstructionAttributes, Options: combo, PriceUpper: upper,
					Instruction: a.Instruction + " with " + strings.Join(text, ", and ") + priceText(upper)})
			}
		}
	}
	if len(ws.goals) == 0 {
		return fmt.Errorf("webshop: no goals (give attributes_file or human_goals_file with instructions)")
	}
	rng.Shuffle(len(ws.goals), func(i, j int) { ws.goals[i], ws.goals[j] = ws.goals[j], ws.goals[i] })
	ws.testGoals = min(max(testGoals, 0), len(ws.goals))
	return nil
}

func priceText(upper float64) string {
	if upper >= 1e6 {
		return ""
	}
	return fmt.Sprintf(", and price lower than %.2f dollars", upper)
}

// optionCombos is the product of a product's option values (WebShop makes one
// goal per combination), the first limit of them.
func optionCombos(p *product, limit int) [][]string {
	combos := [][]string{nil}
	for _, name := range p.OptionNames {
		var next [][]string
		for _, c := range combos {
			for _, v := range p.Options[name] {
				if len(next) < limit {
					next = append(next, append(append([]string(nil), c...), v))
				}
			}
		}
		combos = next
	}
	return combos
}
