package safety

import corralv1 "github.com/corral-ai/corral/proto/corral/v1"

// Category is a hazard category of the taxonomy: the 14 Llama Guard 3
// (MLCommons) categories plus prompt injection and harassment. It is the
// proto enum, so verdicts cross process boundaries unchanged.
type Category = corralv1.HazardCategory

// The categories, by their proto names.
const (
	ViolentCrimes         = corralv1.HazardCategory_HAZARD_CATEGORY_VIOLENT_CRIMES
	NonViolentCrimes      = corralv1.HazardCategory_HAZARD_CATEGORY_NON_VIOLENT_CRIMES
	SexCrimes             = corralv1.HazardCategory_HAZARD_CATEGORY_SEX_CRIMES
	ChildExploitation     = corralv1.HazardCategory_HAZARD_CATEGORY_CHILD_EXPLOITATION
	Defamation            = corralv1.HazardCategory_HAZARD_CATEGORY_DEFAMATION
	SpecializedAdvice     = corralv1.HazardCategory_HAZARD_CATEGORY_SPECIALIZED_ADVICE
	Privacy               = corralv1.HazardCategory_HAZARD_CATEGORY_PRIVACY
	IntellectualProperty  = corralv1.HazardCategory_HAZARD_CATEGORY_INTELLECTUAL_PROPERTY
	IndiscriminateWeapons = corralv1.HazardCategory_HAZARD_CATEGORY_INDISCRIMINATE_WEAPONS
	Hate                  = corralv1.HazardCategory_HAZARD_CATEGORY_HATE
	SelfHarm              = corralv1.HazardCategory_HAZARD_CATEGORY_SELF_HARM
	SexualContent         = corralv1.HazardCategory_HAZARD_CATEGORY_SEXUAL_CONTENT
	Elections             = corralv1.HazardCategory_HAZARD_CATEGORY_ELECTIONS
	CodeInterpreterAbuse  = corralv1.HazardCategory_HAZARD_CATEGORY_CODE_INTERPRETER_ABUSE
	PromptInjection       = corralv1.HazardCategory_HAZARD_CATEGORY_PROMPT_INJECTION
	Harassment            = corralv1.HazardCategory_HAZARD_CATEGORY_HARASSMENT
)

// Categories lists every category, most severe first; verdicts order their
// categories the same way.
var Categories = []Category{
	ChildExploitation, IndiscriminateWeapons, SexCrimes, ViolentCrimes, SelfHarm,
	Hate, Harassment, NonViolentCrimes, CodeInterpreterAbuse, PromptInjection,
	Privacy, SexualContent, Elections, Defamation, SpecializedAdvice, IntellectualProperty,
}

// numClasses is the number of categories the classifier scores.
const numClasses = 16

// categoryNames are the names used in JSON, the corpus and the CLI.
var categoryNames = map[Category]string{
	ViolentCrimes:         "violent_crimes",
	NonViolentCrimes:      "non_violent_crimes",
	SexCrimes:             "sex_crimes",
	ChildExploitation:     "child_exploitation",
	Defamation:            "defamation",
	SpecializedAdvice:     "specialized_advice",
	Privacy:               "privacy",
	IntellectualProperty:  "intellectual_property",
	IndiscriminateWeapons: "indiscriminate_weapons",
	Hate:                  "hate",
	SelfHarm:              "self_harm",
	SexualContent:         "sexual_content",
	Elections:             "elections",
	CodeInterpreterAbuse:  "code_interpreter_abuse",
	PromptInjection:       "prompt_injection",
	Harassment:            "harassment",
}

var classOf = func() map[Category]int {
	m := make(map[Category]int, len(Categories))
	for i, c := range Categories {
		m[c] = i
	}
	return m
}()

// CategoryName returns the snake_case name of c ("violent_crimes"), or
// "unspecified" for a value outside the taxonomy.
func CategoryName(c Category) string {
	if n, ok := categoryNames[c]; ok {
		return n
	}
	return "unspecified"
}

// ParseCategory maps a snake_case name or a Llama Guard code ("S1") to its
// category.
func ParseCategory(name string) (Category, bool) {
	for c, n := range categoryNames {
		if n == name {
			return c, true
		}
	}
	return corralv1.HazardCategoryFromLlamaGuard(name)
}
