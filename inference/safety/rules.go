package safety

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

type ruleKind uint8

const (
	kindTerm ruleKind = iota
	kindTarget
	kindIntent
	kindGroup
	kindYou
	kindSexual
	kindSafe
	kindDefense
	kindEveryday
	kindHarm
	kindVictim
	kindOwner
	kindPrivate
	kindDeny
	kindAtrocity
	kindGlorify
	kindHistory
	kindFiction
	kindEvasion
)

var ruleKinds = map[string]ruleKind{
	"term": kindTerm, "target": kindTarget, "intent": kindIntent, "group": kindGroup,
	"you": kindYou, "sexual": kindSexual, "safe": kindSafe, "defense": kindDefense,
	"everyday": kindEveryday, "harm": kindHarm, "victim": kindVictim, "owner": kindOwner,
	"private": kindPrivate, "deny": kindDeny, "atrocity": kindAtrocity, "glorify": kindGlorify,
	"history": kindHistory, "fiction": kindFiction, "evasion": kindEvasion,
}

// anchor says which anchor kind raises a category's targets and how near
// it must be, in words. before means the anchor must come first ("how to
// … bomb", "you … idiot"); otherwise either side counts ("vermin like …").
type anchor struct {
	kind   ruleKind
	window int
	before bool
}

func anchorOf(class int) anchor {
	switch Categories[class] {
	case Hate:
		return anchor{kindGroup, 4, false}
	case Harassment:
		return anchor{kindYou, 3, true}
	case ChildExploitation:
		return anchor{kindSexual, 6, false}
	case PromptInjection:
		// Role play and "from now on" are ordinary on their own; two
		// different override markers together are an attack.
		return anchor{kindTarget, 30, false}
	}
	return anchor{kindIntent, 8, true}
}

// allClasses marks a rule that applies to every category.
const allClasses = -1

// pattern is one phrase of the lexicon.
type pattern struct {
	words  []string
	prefix []bool // words[i] matches any word starting with it
	kind   ruleKind
	class  int // index into Categories, or allClasses
	weight float64
	text   string // the phrase as written, for evidence
}

// ruleSet is a compiled lexicon: a trie over words, so finding every
// match at a position costs the depth of the longest match there, not the
// number of phrases that share a first word.
type ruleSet struct {
	root trieNode
}

// trieNode is one word position of the phrases through it.
type trieNode struct {
	next   map[string]*trieNode // exact next word
	pre    map[string]*trieNode // next word starts with the key
	preLen []int                // the distinct lengths of pre's keys, ascending
	any    *trieNode            // "_": any one word
	out    []*pattern           // phrases that end here
}

func newRuleSet() *ruleSet { return &ruleSet{} }

func (n *trieNode) child(word string, prefix bool) *trieNode {
	if word == "_" {
		if n.any == nil {
			n.any = &trieNode{}
		}
		return n.any
	}
	m := &n.next
	if prefix {
		m = &n.pre
		if !slices.Contains(n.preLen, len(word)) {
			n.preLen = append(n.preLen, len(word))
			slices.Sort(n.preLen)
		}
	}
	if *m == nil {
		*m = map[string]*trieNode{}
	}
	c := (*m)[word]
	if c == nil {
		c = &trieNode{}
		(*m)[word] = c
	}
	return c
}

// compileRules parses lexicon lines ("category kind weight | phrase | …").
func compileRules(src string) (*ruleSet, error) {
	rs := newRuleSet()
	for n, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		head, rest, ok := strings.Cut(line, "|")
		f := strings.Fields(head)
		if !ok || len(f) != 3 {
			return nil, fmt.Errorf("lexicon line %d: want \"category kind weight | phrase …\"", n+1)
		}
		class := allClasses
		if f[0] != "*" {
			c, ok := ParseCategory(f[0])
			if !ok {
				return nil, fmt.Errorf("lexicon line %d: unknown category %q", n+1, f[0])
			}
			class = classOf[c]
		}
		kind, ok := ruleKinds[f[1]]
		if !ok {
			return nil, fmt.Errorf("lexicon line %d: unknown kind %q", n+1, f[1])
		}
		w, err := strconv.ParseFloat(f[2], 64)
		if err != nil || w < 0 || w > 1 {
			return nil, fmt.Errorf("lexicon line %d: weight %q not in [0, 1]", n+1, f[2])
		}
		for _, phrase := range strings.Split(rest, "|") {
			if _, err := rs.add(phrase, kind, class, w); err != nil {
				return nil, fmt.Errorf("lexicon line %d: %w", n+1, err)
			}
		}
	}
	return rs, nil
}

func (rs *ruleSet) add(phrase string, kind ruleKind, class int, w float64) (*pattern, error) {
	phrase = strings.TrimSpace(phrase)
	p := &pattern{kind: kind, class: class, weight: w, text: phrase}
	for _, word := range strings.Fields(phrase) {
		pre := strings.HasSuffix(word, "*")
		word = strings.TrimSuffix(word, "*")
		if word == "_" {
			p.words = append(p.words, word)
			p.prefix = append(p.prefix, false)
			continue
		}
		parts := strings.Fields(Normalize(word))
		for i, part := range parts {
			p.words = append(p.words, part)
			p.prefix = append(p.prefix, pre && i == len(parts)-1)
		}
	}
	if len(p.words) == 0 {
		return nil, fmt.Errorf("empty phrase")
	}
	if p.words[0] == "_" {
		return nil, fmt.Errorf("phrase %q starts with a wildcard", phrase)
	}
	n := &rs.root
	for i, w := range p.words {
		n = n.child(w, p.prefix[i])
	}
	n.out = append(n.out, p)
	return p, nil
}

// match is one pattern found at words [start, end).
type match struct {
	p          *pattern
	start, end int
}

// find appends every match of the rule set in words to dst.
func (rs *ruleSet) find(dst []match, words []string) []match {
	for i := range words {
		dst = rs.root.walk(dst, words, i, i)
	}
	return dst
}

// walk appends the phrases through n that match words from start, having
// matched up to j.
func (n *trieNode) walk(dst []match, words []string, start, j int) []match {
	for _, p := range n.out {
		dst = append(dst, match{p, start, j})
	}
	if j == len(words) {
		return dst
	}
	w := words[j]
	if c := n.next[w]; c != nil {
		dst = c.walk(dst, words, start, j+1)
	}
	for _, l := range n.preLen {
		if l > len(w) {
			break
		}
		if c := n.pre[w[:l]]; c != nil {
			dst = c.walk(dst, words, start, j+1)
		}
	}
	if n.any != nil {
		dst = n.any.walk(dst, words, start, j+1)
	}
	return dst
}

// ruleResult is what the rules pass found in one text.
type ruleResult struct {
	scores     [numClasses]float64
	evidence   [numClasses]string // the phrase behind each score
	masked     []bool             // words inside a harmless look-alike
	hits       int                // terms and real targets that counted
	defended   bool               // a target was weakened by a defensive phrase
	request    bool               // a request phrase ("how to", "give me") is present
	harmless   bool               // a harmless look-alike was masked
	people     bool               // a group of people or the other party is named
	group      bool               // a group of people is named
	atrocity   bool               // an atrocity is named
	everyday   bool               // an everyday subject (cooking, cleaning, travel) is named
	context    bool               // a defensive or historical phrase is present
	story      bool               // a historical or fictional phrase is present
	evasion    bool               // the text asks how to escape consequences
	victimEnd  []int32            // per word, the end of the longest victim starting there
	define     bool               // the text only asks what a word means
	humaneSeen int8               // 0 not looked, 1 no, 2 a vet or a humane end is named
	ctx        contexts
}

// minHitWeight is the weight from which a target counts as a hit (a hint
// that the classifier's probability can be trusted as is).
const minHitWeight = 0.3

// evaluate runs the rules over the words of a normalised text.
func (rs *ruleSet) evaluate(words []string, scratch []match, res *ruleResult) []match {
	ms := rs.find(scratch[:0], words)
	*res = ruleResult{masked: res.masked[:0], ctx: res.ctx, victimEnd: res.victimEnd[:0]}
	for range words {
		res.masked = append(res.masked, false)
	}
	for _, m := range ms {
		switch m.p.kind {
		case kindSafe:
			res.harmless = true
			for k := m.start; k < m.end; k++ {
				res.masked[k] = true
			}
		case kindEvasion:
			res.evasion = true
		case kindVictim:
			if m.p.class == classOf[ViolentCrimes] {
				res.victimEnd = growTo(res.victimEnd, len(words))
				res.victimEnd[m.start] = max(res.victimEnd[m.start], int32(m.end))
			}
		}
	}
	if narration(words) && !res.intent(ms) {
		ms = append(ms, match{narrationPattern, 0, 3})
	}
	res.ctx.build(ms, len(words), res.masked)
	for _, m := range ms {
		if m.p.kind == kindIntent && !res.isMasked(m) {
			res.request = true
		}
		if m.p.kind == kindGroup || m.p.kind == kindYou {
			res.people = true
			res.group = res.group || m.p.kind == kindGroup
		}
		if m.p.kind == kindEveryday {
			res.everyday = true
		}
		if (m.p.kind == kindDefense || m.p.kind == kindHistory) && m.p.class == allClasses {
			res.context = true
		}
		if m.p.kind == kindHistory || m.p.kind == kindFiction {
			res.story = true
		}
		if res.isMasked(m) {
			continue
		}
		switch m.p.kind {
		case kindHarm:
			if !res.thingAfter(words, m) {
				res.harm(words, m)
			}
			continue
		case kindDeny:
			if res.ctx.near(ctxGroup, m, 5, true) && !negated(words, m.start) {
				res.score(m.p.class, 0.9, m.p.text, true)
			}
			continue
		case kindAtrocity:
			res.atrocity = true
			if res.ctx.near(ctxGlorify, m, 6, false) && !negated(words, m.start) {
				score, hit := 0.9, true
				if res.ctx.near(ctxDefense, m, 10, false) {
					score, hit, res.defended = score*0.35, false, true
				}
				res.score(m.p.class, score, m.p.text+" (praised or denied)", hit)
			}
			continue
		case kindPrivate:
			// A private detail of a person the writer knows ("my
			// coworker's medical records"), not of a public figure.
			if res.ctx.near(ctxOwner, m, 4, true) {
				res.score(m.p.class, 0.9, m.p.text, true)
			}
			continue
		}
		if m.p.kind != kindTerm && m.p.kind != kindTarget {
			continue
		}
		c := m.p.class
		if m.p.kind == kindTarget && c == classOf[ViolentCrimes] && res.thingAfter(words, m) {
			continue // "stab a potato", "exterminate the rats"; never "bomb a hotel"
		}
		score := m.p.weight
		hit := m.p.kind == kindTerm || score >= minHitWeight
		if m.p.kind == kindTarget {
			a := anchorOf(c)
			if res.ctx.near(anchorKey(c), m, a.window, a.before) && !negated(words, m.start) {
				score = min(0.97, max(0.9, score+0.5))
			}
			if res.defenseNear(m) || (c == classOf[ViolentCrimes] && res.ctx.near(ctxDefenseViolent, m, 10, false)) {
				score *= 0.35
				hit = false
				res.defended = true
			}
		}
		if m.p.kind == kindTerm && c == classOf[ViolentCrimes] && res.ctx.near(ctxDefenseViolent, m, 10, false) {
			// Violence inside a game, novel or film ("kill someone in
			// Call of Duty") is fiction, even in a term's words.
			score *= 0.35
			hit = false
			res.defended = true
		}
		res.score(c, score, m.p.text, hit)
	}
	res.causative(words)
	res.tainted(words)
	if !res.request && !res.ctx.present[ctxOwner] && definitional(words) {
		// "What is fentanyl?" asks for a definition: everything but a
		// person's own words about harming themselves is weakened.
		res.define = true
		for c := range res.scores {
			if Categories[c] != SelfHarm {
				res.scores[c] *= 0.35
			}
		}
	}
	return ms
}

// defenseNear reports whether a defensive, historical or fictional phrase
// is within ten words of m.
func (r *ruleResult) defenseNear(m match) bool {
	if r.ctx.near(ctxFiction, m, 10, false) {
		return true
	}
	// "How did someone get away with it" asks for a way to escape the
	// consequences, whatever else it says.
	return !r.evasion && (r.ctx.near(ctxDefense, m, 10, false) || r.ctx.near(ctxHistory, m, 10, false))
}

func (r *ruleResult) score(c int, score float64, evidence string, hit bool) {
	if hit {
		r.hits++
	}
	if score > r.scores[c] {
		r.scores[c] = score
		r.evidence[c] = evidence
	}
}

// harm scores a harm verb ("stab", "eliminate", "take out"), which is
// harmful only when a person is its object: "how do I eliminate my boss"
// is, "how do I eliminate clutter" is not. A victim must start within
// three words after the verb (four for the writer's own body), and the
// text must ask for a way or state an intent before the verb; a
// defensive, historical or fictional context weakens it as it does a
// target.
func (r *ruleResult) harm(words []string, m match) {
	if negated(words, m.start) || strings.HasSuffix(words[m.end-1], "ed") ||
		!(r.ctx.near(ctxIntent, m, 8, true) || asks(words, m.start)) {
		return // a report ("he killed someone"), not a request
	}
	class := -1
	if m.p.class == classOf[IndiscriminateWeapons] {
		// A place full of people, on either side: "blow up a stadium",
		// "set a hospital on fire".
		if r.ctx.near(ctxPlace, m, 4, false) {
			class = m.p.class
		}
	} else {
		// The victim follows the verb, or sits inside it ("knock _ out").
		from := m
		if slices.Contains(m.p.words, "_") {
			from.end = m.start + 1
		}
		if r.ctx.after(ctxVictim, from, 3+m.end-from.end) && r.victimIsObject(words, int(r.ctx.nextStart[ctxVictim][from.end])) {
			class = classOf[ViolentCrimes]
		}
		// The writer's own body, unless a person comes first ("stab my
		// wife myself" is violence).
		if r.ctx.after(ctxSelf, m, 4) && (class < 0 || r.ctx.nextStart[ctxSelf][m.end] < r.ctx.nextStart[ctxVictim][from.end]) {
			class = classOf[SelfHarm]
		}
	}
	what := " (a person)"
	if class < 0 && crueltyVerbs[m.p.text] && petAfter(words, m.end) && !r.humane(words) {
		class, what = classOf[ViolentCrimes], " (an animal)"
	}
	if class < 0 {
		return
	}
	score, hit := 0.92, true
	if r.defenseNear(m) || (!r.evasion && r.ctx.near(ctxDefenseViolent, m, 10, false)) {
		score *= 0.35
		hit = false
		r.defended = true
	}
	r.score(class, score, m.p.text+what, hit)
}

// crueltyVerbs are the harm verbs (as written in the lexicon) that are
// cruelty when a pet is their object; putting down, rehoming, training
// ("push", "get rid of", "euthanise") are not.
var crueltyVerbs = setOf2(`drown*|tortur*|torture*|hurt|harm|injure|beat*|starve*|burn|strangl*|suffocat*|
	smother*|stab*|poison*|choke*|throttl*|kill*|maim*|mutilat*|electrocut*|set fire to|dismember*|behead*|
	slit|punch*|slap*|hammer|bludgeon*|cripple|disfigur*`)

// humane reports whether the text speaks of a vet or a humane end,
// looking once per text so that a text full of verbs stays linear.
func (r *ruleResult) humane(words []string) bool {
	if r.humaneSeen == 0 {
		r.humaneSeen = 1
		for _, x := range words {
			if x == "humanely" || x == "vet" || x == "veterinarian" || strings.HasPrefix(x, "euthan") {
				r.humaneSeen = 2
				break
			}
		}
	}
	return r.humaneSeen == 2
}

// petAfter reports whether a pet is named within four words from i, with
// only determiners and owners between ("a kitten", "my sister's hamster").
func petAfter(words []string, i int) bool {
	for k := i; k < len(words) && k < i+4; k++ {
		w := words[k]
		if pets[w] {
			return true
		}
		if k+1 < len(words) && words[k+1] == "s" {
			k++ // anyone's pet: "my sister's hamster"
			continue
		}
		if !determiners[w] && !petOwners[w] {
			return false
		}
	}
	return false
}

var pets = setOf(`dog dogs puppy puppies pup kitten kittens cat cats kitty hamster hamsters pet pets bunny
	rabbit guinea parrot ferret pony`)

var petOwners = setOf(`neighbours neighbors stray little own family new old friends`)

// causative scores a harm done to a person through someone else: "get my
// wife killed", "have the witness taken out". The person sits between
// "get" or "have" (and a determiner) and a participle of harm, and the
// text asks for a way, states an intent or starts with the verb.
func (r *ruleResult) causative(words []string) {
	for s := 1; s < len(r.victimEnd); s++ {
		e := int(r.victimEnd[s])
		if e == 0 || e >= len(words) {
			continue
		}
		c := s - 1
		if determiners[words[c]] && c > 0 {
			c--
		}
		if !causeVerbs[words[c]] || negated(words, c) {
			continue
		}
		n := harmParticiple(words[e:])
		if n == 0 {
			continue
		}
		m := match{causativePattern, c, e + n}
		if c > 0 && !r.ctx.near(ctxIntent, m, 8, true) && !asks(words, c) {
			continue
		}
		score, hit := 0.92, true
		if r.defenseNear(m) || (!r.evasion && r.ctx.near(ctxDefenseViolent, m, 10, false)) {
			score, hit, r.defended = score*0.35, false, true
		}
		r.score(classOf[ViolentCrimes], score, strings.Join(words[c:e+n], " ")+" (a person)", hit)
	}
}

// tainted scores poisoning or drugging what someone eats or drinks:
// "poison his tea", "poison the soup at the party", "drug a girl's
// drink". Poison needs only food or drink within seven words; drugging or
// spiking needs it to be someone else's ("her drink", "a girl's drink"),
// so "spike my hair" and "lace my boots" pass.
func (r *ruleResult) tainted(words []string) {
	for i, w := range words {
		poison := poisonVerbs[w]
		if (!poison && !drugVerbs[w]) || r.masked[i] || negated(words, i) {
			continue
		}
		// "the best poison to put in my husband's coffee" is seven words.
		reach := 5
		if poison {
			reach = 7
		}
		k, owned := i+1, false
		for ; k < len(words) && k <= i+reach && !consumables[words[k]]; k++ {
			owned = owned || otherOwners[words[k]]
		}
		if k >= len(words) || k > i+reach || r.masked[k] || !(poison || owned) {
			continue
		}
		m := match{taintPattern, i, k + 1}
		if i > 0 && !r.ctx.near(ctxIntent, m, 8, true) && !asks(words, i) {
			continue
		}
		class, score, hit := classOf[ViolentCrimes], 0.92, true
		if drugVerbs[w] && w != "lace" && w != "lacing" {
			class = classOf[SexCrimes] // drugging a drink, as "spike her drink"
		}
		if r.defenseNear(m) || (!r.evasion && r.ctx.near(ctxDefenseViolent, m, 10, false)) {
			score, hit, r.defended = score*0.35, false, true
		}
		r.score(class, score, strings.Join(words[i:k+1], " ")+" (food or drink)", hit)
	}
}

var taintPattern = &pattern{kind: kindHarm, class: classOf[ViolentCrimes], text: "poison _ drink", words: []string{"poison", "_"}}

var poisonVerbs = setOf(`poison poisoning contaminate contaminating taint tainting`)

var drugVerbs = setOf(`drug drugging spike spiking lace lacing slip slipping roofie`)

var consumables = setOf(`drink drinks tea coffee food soup meal meals dinner lunch breakfast water wine beer juice
	cocktail cocktails punch smoothie milk cup glass sandwich cake stew snack dessert bottle soda latte whiskey
	beverage shake`)

// otherOwners make a drink someone else's: a pronoun or a possessive "s".
var otherOwners = setOf(`his her their someones somebodys s girls guys womans mans`)

var causativePattern = &pattern{kind: kindHarm, class: classOf[ViolentCrimes], text: "get _ harmed", words: []string{"get", "_"}}

var causeVerbs = setOf(`get gets got getting have has had having`)

// harmParticiple returns how many words at the start of ws are a
// participle of harm ("killed", "taken out"), or 0.
func harmParticiple(ws []string) int {
	if len(ws) > 1 && harmParticiples2[ws[0]+" "+ws[1]] {
		return 2
	}
	if harmParticiples[ws[0]] {
		return 1
	}
	return 0
}

var harmParticiples = setOf(`killed murdered eliminated poisoned stabbed shot beaten hurt harmed injured attacked
	assaulted kidnapped abducted strangled drowned tortured executed assassinated whacked offed maimed
	mutilated butchered slaughtered disappeared liquidated terminated smothered suffocated maimed crippled
	paralysed paralyzed hanged lynched burned burnt raped`)

var harmParticiples2 = setOf2(`taken out|beaten up|roughed up|knocked out|done in|run over|bumped off|wiped out|
	done away|set on fire|gunned down|stabbed to|beaten to`)

func setOf2(phrases string) map[string]bool {
	m := map[string]bool{}
	for _, p := range strings.Split(phrases, "|") {
		m[strings.Join(strings.Fields(p), " ")] = true
	}
	return m
}

// victimIsObject reports whether the victim starting at word s is the
// object itself, not the owner of something else: the text ends after it,
// or a function word, an adverb or a body part follows it ("my wife
// tonight", "someone with", "a human spine"), or a possessive and then a
// body part or a belonging one would attack ("my boss's car"). "Get rid of
// my husband's snoring" and "hit my kids' reading goals" are not about
// the person.
func (r *ruleResult) victimIsObject(words []string, s int) bool {
	e := len(words)
	if s < len(r.victimEnd) && r.victimEnd[s] > 0 {
		e = int(r.victimEnd[s])
	}
	if e >= len(words) {
		return true
	}
	w := words[e]
	if w == "s" {
		return e+1 < len(words) && (bodyParts[words[e+1]] || belongings[words[e+1]])
	}
	return stopWords[w] || victimFollowers[w] || bodyParts[w]
}

var bodyParts = setOf(`head heads face skull neck throat legs leg arm arms knees knee kneecaps jaw teeth eyes
	ribs spine sternum back kidney kidneys chest stomach heart life body bodies fingers hands hand feet artery
	brains brain nose windpipe`)

var belongings = setOf(`car cars house home tires tyres brakes breaks bike motorbike motorcycle windows drink
	food coffee tea dog cat pet pets`)

var victimFollowers = setOf(`while until before after without tonight today tomorrow now slowly quickly quietly
	secretly badly hard again forever permanently dead unconscious senseless up down off out alive
	unnoticed undetected too enough`)

func setOf(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

func growTo(s []int32, n int) []int32 {
	for len(s) < n {
		s = append(s, 0)
	}
	return s
}

// thingAfter reports whether an everyday subject is the object of m: it
// follows at once or after a determiner ("stab a potato", "kill ants").
// Another word between ("cocaine and weed") makes it no object, and a
// place full of people is never a thing ("bomb an airport").
func (r *ruleResult) thingAfter(words []string, m match) bool {
	if !r.ctx.after(ctxThing, m, 2) || r.ctx.after(ctxPlace, m, 2) {
		return false
	}
	s := int(r.ctx.nextStart[ctxThing][m.end])
	return s == m.end || determiners[words[m.end]]
}

var determiners = setOf(`a an the some this that these those my your his her its our their`)

// narrationPattern stands for a question about what a named third party
// does or did ("how does Scar…", "why did Booth…"): a story or history,
// which weakens like a historical phrase.
var narrationPattern = &pattern{kind: kindHistory, class: allClasses, text: "narration", words: []string{"_"}}

// narration reports whether words start "how/why does/did <name>", where
// the name is no function word and no one the writer could stand for
// ("how does one…", "how did someone…" are requests in disguise).
func narration(words []string) bool {
	if len(words) < 4 || (words[0] != "how" && words[0] != "why") || (words[1] != "does" && words[1] != "did") {
		return false
	}
	w := words[2]
	return !stopWords[w] && !genericPerson[w]
}

var genericPerson = map[string]bool{
	"one": true, "someone": true, "somebody": true, "anyone": true, "anybody": true, "people": true,
	"u": true, "ya": true, "everyone": true, "terrorists": true, "criminals": true, "hackers": true,
}

// askWords make a text a question about how to do something, even
// without a request phrase ("what are ways of…", "where can I…").
var askWords = map[string]bool{
	"how": true, "what": true, "whats": true, "where": true, "which": true, "ways": true,
	"way": true, "steps": true, "process": true, "plan": true, "method": true, "methods": true,
	"tips": true, "best": true, "easiest": true, "quickest": true,
}

// asks reports whether one of the eight words before position i makes the
// text a question or an intent.
func asks(words []string, i int) bool {
	for k := max(0, i-8); k < i; k++ {
		if askWords[words[k]] {
			return true
		}
	}
	return false
}

// definitional reports whether words only ask what something is ("what is
// meth", "what does grooming mean", "define fraud"): a question word at
// the start and at most five words after it.
func definitional(words []string) bool {
	if len(words) > maxDefinitionWords {
		return false // most texts: no need to look for personal words
	}
	for _, w := range words {
		if personal[w] {
			return false // "what is my address" asks about a person
		}
		if choosing[w] {
			return false // "who is the easiest person to rob" asks for a choice
		}
	}
	for _, p := range definitionStarts {
		if len(words) > len(p) && len(words) <= len(p)+5 && slices.Equal(words[:len(p)], p) {
			return true
		}
	}
	return false
}

// personal words point at a person, never at a word's meaning.
var personal = map[string]bool{
	"my": true, "your": true, "his": true, "her": true, "their": true, "i": true,
	"me": true, "someone": true, "someones": true, "somebody": true,
}

// choosing words ask for a way or the best pick, never a meaning.
var choosing = setOf(`best easiest easier quickest fastest simplest cheapest safest surest way ways method
	methods steps how where target targets victim victims`)

// maxDefinitionWords is the longest definitional question: the longest
// start and five words.
const maxDefinitionWords = 4 + 5

var definitionStarts = [][]string{
	{"what", "is"}, {"whats"}, {"what", "are"}, {"what", "was"}, {"what", "were"},
	{"what", "does"}, {"what", "do"}, {"what", "constitutes"}, {"what", "counts", "as"},
	{"what", "kind", "of"}, {"what", "type", "of"}, {"what", "exactly", "is"}, {"define"},
	{"who", "is"}, {"who", "was"}, {"who", "were"}, {"explain", "what"}, {"what", "is", "meant", "by"},
}

// intent reports whether ms hold a request or an intent phrase outside a
// look-alike: "how does Bob make meth" and "how does Dave kill his boss
// step by step" ask for a way, whoever the story is about.
func (r *ruleResult) intent(ms []match) bool {
	for _, m := range ms {
		if m.p.kind == kindIntent && !r.isMasked(m) {
			return true
		}
	}
	return false
}

func (r *ruleResult) isMasked(m match) bool {
	for k := m.start; k < m.end; k++ {
		if r.masked[k] {
			return true
		}
	}
	return false
}

// negated reports whether one of the three words before position i
// negates what follows ("are not vermin", "never said you are stupid").
func negated(words []string, i int) bool {
	for k := max(0, i-3); k < i; k++ {
		switch words[k] {
		case "not", "no", "never", "dont", "isnt", "arent", "wasnt", "werent", "nobody", "nothing", "nicht", "kein", "keine", "nunca", "jamais", "pas", "non":
			return true
		}
	}
	return false
}

// Anchor lookups: for each kind of context, the nearest match ending at
// or before each word and starting at or after it, so that every target
// finds its context in constant time and a text full of matches stays
// linear.
const (
	ctxIntent = iota
	ctxGroup
	ctxYou
	ctxSexual
	ctxInjection // prompt-injection targets, the context of one another
	ctxDefense
	ctxHistory // a historical or definitional question: a defense, except of an atrocity
	ctxDefenseViolent
	ctxVictim // a person as the object of a harm verb
	ctxSelf   // the writer's own body as its object
	ctxOwner  // a person the writer knows, followed by a possessive
	ctxThing  // an everyday subject (a potato, a balloon)
	ctxGlorify
	ctxPlace // a place full of people as the object of a destructive verb
	ctxFiction
	numCtx
)

// contextKey returns the context a match provides, or -1.
func contextKey(p *pattern) int {
	switch p.kind {
	case kindIntent:
		return ctxIntent
	case kindGroup:
		return ctxGroup
	case kindYou:
		return ctxYou
	case kindSexual:
		return ctxSexual
	case kindTarget:
		if p.class == classOf[PromptInjection] {
			return ctxInjection
		}
	case kindVictim:
		switch p.class {
		case classOf[SelfHarm]:
			return ctxSelf
		case classOf[IndiscriminateWeapons]:
			return ctxPlace
		}
		return ctxVictim
	case kindOwner:
		return ctxOwner
	case kindGlorify:
		return ctxGlorify
	case kindHistory:
		return ctxHistory
	case kindFiction:
		return ctxFiction
	case kindEveryday:
		if p.class == allClasses {
			return ctxThing
		}
	case kindDefense:
		if p.class == allClasses {
			return ctxDefense
		}
		if p.class == classOf[ViolentCrimes] {
			return ctxDefenseViolent
		}
	}
	return -1
}

func anchorKey(class int) int {
	switch anchorOf(class).kind {
	case kindGroup:
		return ctxGroup
	case kindYou:
		return ctxYou
	case kindSexual:
		return ctxSexual
	case kindTarget:
		return ctxInjection
	}
	return ctxIntent
}

// contexts holds, per context key, lastEnd[i] (the largest end ≤ i of a
// match, or -1) and nextStart[i] (the smallest start ≥ i, or a large
// number), for i in [0, len(words)].
type contexts struct {
	lastEnd, nextStart [numCtx][]int32
	present            [numCtx]bool // a kind is filled in only when present
}

const farAway = 1 << 30

func (cx *contexts) build(ms []match, n int, masked []bool) {
	// Only the kinds a text has are filled in: most texts have a few of
	// them, and near answers false for the others without looking.
	cx.present = [numCtx]bool{}
	for _, m := range ms {
		if k := cx.key(m, masked); k >= 0 {
			cx.present[k] = true
		}
	}
	for k := range numCtx {
		if !cx.present[k] {
			continue
		}
		le := cx.lastEnd[k][:0]
		ns := cx.nextStart[k][:0]
		for range n + 1 {
			le = append(le, -1)
			ns = append(ns, farAway)
		}
		cx.lastEnd[k], cx.nextStart[k] = le, ns
	}
	for _, m := range ms {
		k := cx.key(m, masked)
		if k < 0 {
			continue
		}
		if int32(m.end) > cx.lastEnd[k][m.end] {
			cx.lastEnd[k][m.end] = int32(m.end)
		}
		if int32(m.start) < cx.nextStart[k][m.start] {
			cx.nextStart[k][m.start] = int32(m.start)
		}
	}
	for k := range numCtx {
		if !cx.present[k] {
			continue
		}
		le, ns := cx.lastEnd[k], cx.nextStart[k]
		for i := 1; i <= n; i++ {
			le[i] = max(le[i], le[i-1])
		}
		for i := n - 1; i >= 0; i-- {
			ns[i] = min(ns[i], ns[i+1])
		}
	}
}

// key is the context m provides, or -1. Inside a harmless look-alike only
// defensive, historical and fictional phrases and owners still count.
func (cx *contexts) key(m match, masked []bool) int {
	k := contextKey(m.p)
	switch k {
	case -1, ctxDefense, ctxHistory, ctxFiction, ctxDefenseViolent, ctxOwner:
		return k
	}
	if maskedSpan(masked, m) {
		return -1
	}
	return k
}

// after reports whether a context of key k starts fewer than window words
// after t ends.
func (cx *contexts) after(k int, t match, window int) bool {
	if !cx.present[k] {
		return false
	}
	s := cx.nextStart[k][t.end]
	return s != farAway && int(s)-t.end < window
}

// near reports whether a context of key k ends fewer than window words
// before t or (unless before) starts fewer than window words after it.
func (cx *contexts) near(k int, t match, window int, before bool) bool {
	if !cx.present[k] {
		return false
	}
	if e := cx.lastEnd[k][t.start]; e >= 0 && t.start-int(e) < window {
		return true
	}
	if before {
		return false
	}
	s := cx.nextStart[k][t.end]
	return s != farAway && int(s)-t.end < window
}

func maskedSpan(masked []bool, m match) bool {
	for k := m.start; k < m.end; k++ {
		if masked[k] {
			return true
		}
	}
	return false
}

// baseRules is the compiled lexicon.
var baseRules = func() *ruleSet {
	rs, err := compileRules(lexicon)
	if err != nil {
		panic("safety: " + err.Error()) // a programmer error, caught by every test
	}
	return rs
}()
