package webshop

import (
	"math"
	"sort"
	"strings"

	"github.com/atod-dev/atod/envs/bm25"
)

// fuzzProcess is fuzzywuzzy's full_process: drop non-ASCII, lowercase, every
// non-alphanumeric character becomes a space, trim.
func fuzzProcess(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 0x80:
			continue
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9'):
			c = ' '
		}
		b = append(b, c)
	}
	return strings.TrimSpace(string(b))
}

// fuzzRatio is python-Levenshtein's ratio as fuzzywuzzy rounds it:
// round(100·2·LCS(a,b)/(|a|+|b|)), 100 for equal strings, 0 when one is empty.
func fuzzRatio(a, b string) int {
	if a == b {
		return 100
	}
	if a == "" || b == "" {
		return 0
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			if a[i-1] == b[j-1] {
				cur[j] = prev[j-1] + 1
			} else {
				cur[j] = max(prev[j], cur[j-1])
			}
		}
		prev, cur = cur, prev
	}
	lcs := prev[len(b)]
	// Python's round() rounds half to even.
	return int(math.RoundToEven(100 * 2 * float64(lcs) / float64(len(a)+len(b))))
}

// tokenSetRatio is fuzzywuzzy's fuzz.token_set_ratio: the best ratio among the
// sorted shared tokens and each side's shared+own tokens.
func tokenSetRatio(s1, s2 string) int {
	p1, p2 := fuzzProcess(s1), fuzzProcess(s2)
	if p1 == "" || p2 == "" {
		return 0
	}
	t1, t2 := tokenSet(p1), tokenSet(p2)
	var sect, only1, only2 []string
	for t := range t1 {
		if t2[t] {
			sect = append(sect, t)
		} else {
			only1 = append(only1, t)
		}
	}
	for t := range t2 {
		if !t1[t] {
			only2 = append(only2, t)
		}
	}
	sort.Strings(sect)
	sort.Strings(only1)
	sort.Strings(only2)
	s := strings.Join(sect, " ")
	c12 := strings.TrimSpace(s + " " + strings.Join(only1, " "))
	c21 := strings.TrimSpace(s + " " + strings.Join(only2, " "))
	return max(fuzzRatio(s, c12), fuzzRatio(s, c21), fuzzRatio(c12, c21))
}

func tokenSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, t := range strings.Fields(s) {
		m[t] = true
	}
	return m
}

// colorSet is WebShop's normalize.COLOR_SET: an option naming one of these colors
// is reduced to the first one it contains before matching.
var colorSet = strings.Fields(`alabaster apricot aqua ash asphalt azure banana beige black blue blush bordeaux
bronze brown burgundy camel camo caramel champagne charcoal cheetah chestnut chocolate christmas coffee cognac
copper coral cranberry cream crystal dark denim eggplant elephant espresso fuchsia gold granite grape graphite
grass gray green grey heather indigo ivory ivy khaki lavender lemon leopard light lilac lime magenta maroon mauve
merlot midnight mint mocha multicolor mushroom mustard natural navy nude olive orange peach pewter pink plum purple
rainbow red rose royal rust sand sapphire seashell silver skull slate steel stone stonewash sunflower tan taupe teal
tiger turquoise violet walnut wheat white wine yellow`)

func normalizeColor(s string) string {
	for _, c := range colorSet {
		if strings.Contains(s, c) {
			return c
		}
	}
	return s
}

// notNouns stands in for spaCy's part-of-speech tagger in WebShop's title score:
// a title's nouns are its alphabetic words of two or more letters that are
// neither stopwords nor in this list of adjectives, adverbs and other non-nouns
// (it covers the words the generated catalog uses as modifiers).
var notNouns = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`new premium organic natural classic modern deluxe ultra soft light lightweight
heavy heavy-duty durable portable compact slim large small medium extra mini big long short high low fast quick
easy free dry oily sensitive gentle fresh sweet spicy salty hot cold warm cool clean smooth strong waterproof
wireless rechargeable adjustable foldable stylish elegant casual formal vintage rustic cozy comfortable comfy
luxury original pure healthy gluten sugar non keto vegan plus daily best great perfect professional all every
fit fitted loose breathable stretch stretchy washable solid padded assembled upholstered ergonomic smart digital
noise cancelling charging charge protective shockproof clear slim-fit quick-dry everyday reusable scented
unscented matte glossy shiny volumizing moisturizing hydrating nourishing repairing anti instant ready roasted
whole raw dark milk wooden metal leather cotton wool silk men women womens mens kids unisex`) {
		notNouns[w] = true
	}
}

// nouns is the stand-in noun set of a title.
func nouns(s string) map[string]bool {
	m := map[string]bool{}
	for _, t := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !(r >= 'a' && r <= 'z') }) {
		if len(t) >= 2 && !bm25.IsStopword(t) && !notNouns[t] {
			m[t] = true
		}
	}
	return m
}
