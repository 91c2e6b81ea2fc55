// Package safety is the safety stage: it screens what users send and what
// personas reply, and masks personal data for history and logs.
//
// A check runs in two passes over the text's normalised form (Normalize:
// NFKC, invisible characters removed, look-alike letters folded, leetspeak
// and spaced-out letters undone, lower case).
//
//  1. Rules (lexicon.go, rules.go): a multi-pattern matcher over words finds
//     harmful terms, harmful targets and their context: request phrases
//     ("how to", "give me"), groups of people (hate), the other party
//     (harassment), defensive, historical and fictional questions ("how do
//     I protect…", "during the war", "in my novel", which weaken a target)
//     and harmless look-alikes ("kill a process", "shoot a portrait", "bath
//     bomb"), whose words are removed before anything else looks at the
//     text. Some words harm only with the right object: a verb such as
//     "eliminate" or "take out" scores when a person follows it ("my
//     boss", not "clutter"; an everyday thing after a violent word makes
//     it harmless), a private detail when someone the writer knows owns it
//     ("my coworker's medical records", not a public figure's), a lost
//     right when a group precedes it, an atrocity when it is praised or
//     denied. A question that only asks what a word means ("what is LSD")
//     weakens everything but a person's own words about self-harm.
//  2. A classifier (model.go, train.go): hashed word and word-pair features
//     with a logistic unsafe/safe model and a softmax category model,
//     trained by Train (`corral safety train`) on the shared corpus,
//     deterministically from a seed; the weights are the committed file
//     classifier.weights. With no rule hit its probability is tempered,
//     since it learned style as well as meaning.
//
// A category scores the stronger of the two passes; a Policy (the platform
// Baseline, tightened per persona with Tighten) decides which scores
// refuse. Stage.Check returns a Verdict (allow, refuse or redact) with the
// categories, scores and evidence. Stage.ReplyScreen checks a reply while
// it is generated (the engine's output filter). A Guard asks a Llama Guard 3
// model, through any Completer, about texts the fast passes are unsure of.
// Redact masks e-mail addresses, phone numbers, payment cards (Luhn), IBANs
// (mod 97), US Social Security and UK National Insurance numbers.
package safety
