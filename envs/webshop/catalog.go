package webshop

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/atod-dev/atod/envs"
)

// category is one department of the generated catalog: its product types by
// sub-category, and the attribute, modifier and option vocabularies.
type category struct {
	name    string
	types   map[string][]string // sub-category → product types
	attrs   []string
	mods    []string
	options map[string][]string // option name → values
	price   [2]float64          // price range
}

var categories = []category{
	{"beauty & personal care",
		map[string][]string{"hair care": {"shampoo", "conditioner", "hair oil", "hair mask"}, "skin care": {"face moisturizer", "body lotion", "face serum", "sunscreen"}, "makeup": {"lipstick", "eyeliner", "foundation", "nail polish"}, "fragrance": {"perfume", "body spray"}},
		[]string{"paraben free", "cruelty free", "long lasting", "sulfate free", "natural ingredients", "dry skin", "sensitive skin", "easy to use", "travel size", "alcohol free", "fine lines", "hair growth"},
		[]string{"organic", "natural", "premium", "gentle", "moisturizing", "nourishing", "daily"},
		map[string][]string{"size": {"2 fl oz", "8 fl oz", "16 fl oz", "pack of 3"}, "scent": {"lavender", "coconut", "unscented", "vanilla", "citrus"}},
		[2]float64{5, 60}},
	{"grocery & gourmet food",
		map[string][]string{"snacks": {"potato chips", "protein bars", "trail mix", "beef jerky"}, "beverages": {"green tea", "coffee beans", "sparkling water"}, "pantry": {"olive oil", "pasta sauce", "honey", "peanut butter"}, "candy": {"dark chocolate", "gummy candy"}},
		[]string{"gluten free", "sugar free", "non gmo", "low calorie", "keto friendly", "ready to eat", "individually wrapped", "high protein", "plant based", "low sodium", "dairy free", "kosher certified"},
		[]string{"organic", "classic", "roasted", "healthy", "sweet", "spicy", "fresh"},
		map[string][]string{"flavor": {"original", "sea salt", "honey mustard", "barbecue", "chili lime"}, "size": {"6 count", "12 count", "24 count", "2 pound"}},
		[2]float64{3, 45}},
	{"clothing, shoes & jewelry",
		map[string][]string{"men": {"t-shirt", "hoodie", "jeans", "sneakers", "dress shirt"}, "women": {"dress", "leggings", "blouse", "sandals", "cardigan"}, "accessories": {"baseball cap", "wallet", "belt"}},
		[]string{"machine wash", "slim fit", "long sleeve", "button closure", "polyester cotton", "elastic waist", "short sleeve", "relaxed fit", "rubber sole", "quick drying", "hand wash", "classic fit"},
		[]string{"casual", "classic", "vintage", "stylish", "comfortable", "lightweight", "soft"},
		map[string][]string{"color": {"black", "white", "navy blue", "heather grey", "red", "olive green"}, "size": {"small", "medium", "large", "x-large", "xx-large"}},
		[2]float64{9, 90}},
	{"home & kitchen",
		map[string][]string{"living room": {"sofa", "coffee table", "tv stand", "bookshelf"}, "bedroom": {"nightstand", "dresser", "bed frame"}, "home office": {"office chair", "desk"}, "dining room": {"dining chair", "bar stool"}},
		[]string{"easy assemble", "storage space", "living room", "solid wood", "space saving", "mid century", "easy clean", "metal frame", "high density", "lumbar support", "non slip", "engineered wood"},
		[]string{"modern", "rustic", "compact", "sturdy", "elegant", "wooden", "upholstered"},
		map[string][]string{"color": {"walnut", "espresso", "white oak", "grey", "black"}, "style": {"2 drawer", "3 drawer", "set of 2", "single"}},
		[2]float64{30, 400}},
	{"electronics",
		map[string][]string{"audio": {"headphones", "bluetooth speaker", "earbuds"}, "accessories": {"phone case", "usb cable", "charger", "power bank"}, "computers": {"keyboard", "mouse", "monitor stand", "webcam"}, "smart home": {"smart plug", "led bulb"}},
		[]string{"high speed", "noise cancelling", "fast charging", "easy install", "wireless bluetooth", "hands free", "plug play", "long battery", "high definition", "usb c", "water resistant", "light weight"},
		[]string{"wireless", "portable", "compact", "rechargeable", "ergonomic", "smart", "durable"},
		map[string][]string{"color": {"black", "silver", "blue", "rose gold", "white"}, "capacity": {"10000mah", "20000mah", "3 ft", "6 ft", "2 pack"}},
		[2]float64{8, 150}},
}

// brandSyllables make the brand names; brands are proper nouns in titles.
var brandSyllables = strings.Fields("lu mo ra ve ta ko ni sa fen dor ax el qui zan bri on pa ri tos mel")

// genCatalog builds n products from seed. Products differ in brand, type,
// modifiers, attributes, options and price; ASINs are unique.
func genCatalog(n int, seed int64) []product {
	rng := envs.NewRNG(seed, 0x63617461)
	brands := map[string]bool{}
	var brandList []string
	for len(brandList) < 60 {
		b := envs.Pick(rng, brandSyllables) + envs.Pick(rng, brandSyllables)
		if rng.IntN(2) == 0 {
			b += envs.Pick(rng, brandSyllables)
		}
		if !brands[b] {
			brands[b] = true
			brandList = append(brandList, strings.ToUpper(b[:1])+b[1:])
		}
	}
	products := make([]product, n)
	asins := map[string]bool{}
	for i := range products {
		c := categories[rng.IntN(len(categories))]
		subs := sortedKeys(c.types)
		sub := envs.Pick(rng, subs)
		typ := envs.Pick(rng, c.types[sub])
		brand := envs.Pick(rng, brandList)
		mod := envs.Pick(rng, c.mods)
		attrs := sample(rng, c.attrs, envs.Between(rng, 2, 4))
		p := product{
			Query:           typ,
			ProductCategory: c.name + " › " + sub + " › " + typ,
			Attributes:      attrs,
			Options:         map[string][]string{},
		}
		for {
			p.ASIN = "b0" + fmt.Sprintf("%08d", rng.IntN(1e8))
			if !asins[p.ASIN] {
				asins[p.ASIN] = true
				break
			}
		}
		p.Title = titleCase(fmt.Sprintf("%s %s %s, %s", brand, mod, typ, attrs[0]))
		if rng.IntN(2) == 0 {
			p.Title += titleCase(" for " + envs.Pick(rng, []string{"men", "women", "everyday use", "home", "travel", "gift"}))
		}
		for _, name := range sortedKeys(c.options) {
			if rng.IntN(3) == 0 && len(p.OptionNames) > 0 {
				continue
			}
			p.OptionNames = append(p.OptionNames, name)
			p.Options[name] = sample(rng, c.options[name], envs.Between(rng, 2, 3))
		}
		lo, hi := c.price[0], c.price[1]
		p.Price = math.Floor(lo+rng.Float64()*(hi-lo)) + 0.99
		p.Description = fmt.Sprintf("This %s %s from %s is %s.", mod, typ, brand, strings.Join(attrs, " and "))
		for _, a := range attrs {
			p.Features = append(p.Features, strings.ToUpper(a[:1])+a[1:])
		}
		products[i] = p
	}
	return products
}

func sample(rng *rand.Rand, xs []string, k int) []string {
	perm := rng.Perm(len(xs))
	out := make([]string, 0, k)
	for _, i := range perm[:min(k, len(xs))] {
		out = append(out, xs[i])
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func titleCase(s string) string {
	words := strings.Split(s, " ")
	for i, w := range words {
		if w != "" && w != "for" {
			words[i] = strings.ToUpper(w[:1]) + w[1:]
		}
	}
	return strings.Join(words, " ")
}

// priceRange is WebShop's PRICE_RANGE: 10, 20, …, 990.
func priceUpper(rng *rand.Rand, price float64) float64 {
	var above []float64
	for i := 1; i < 100 && len(above) < 4; i++ {
		if p := 10 * float64(i); p > price {
			above = append(above, p)
		}
	}
	if len(above) < 2 {
		return 1e6
	}
	// WebShop takes the larger of two distinct prices drawn from the next four above.
	perm := rng.Perm(len(above))
	return max(above[perm[0]], above[perm[1]])
}

// goalFor draws an instruction for product p: some of its attributes, one value
// per option, and a price bound above its price.
func goalFor(rng *rand.Rand, p *product) goal {
	g := goal{ASIN: p.ASIN, Query: p.Query, Name: p.Title, ProductCategory: p.ProductCategory, PriceUpper: priceUpper(rng, p.Price)}
	g.Attributes = sample(rng, p.Attributes, 1+rng.IntN(2))
	var opts []string
	for _, name := range p.OptionNames {
		v := p.Options[name][rng.IntN(len(p.Options[name]))]
		g.Options = append(g.Options, v)
		opts = append(opts, name+": "+v)
	}
	lead := []string{"i am looking for", "i need", "i want", "find me"}[rng.IntN(4)]
	g.Instruction = fmt.Sprintf("%s %s %s with %s, and price lower than %.2f dollars",
		lead, strings.Join(g.Attributes, " and "), p.Query, strings.Join(opts, ", and "), g.PriceUpper)
	return g
}
