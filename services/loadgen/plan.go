package loadgen

import (
	"fmt"
	"math/rand/v2"
	"time"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// A run is planned from the seed alone: which users exist, their
// platforms, names and messages, when open-loop messages arrive and how
// long closed-loop users think. Only the run id (in every id, so runs
// never collide) and the timing of the deployment's replies differ between
// two runs of one scenario.

// Planner derives users and timings from a scenario.
type Planner struct {
	s      Scenario
	corpus Corpus
	runID  int
}

// NewPlanner plans runs of s with messages from corpus, ids numbered with
// runID.
func NewPlanner(s Scenario, corpus Corpus, runID int) *Planner {
	return &Planner{s: s, corpus: corpus, runID: runID}
}

// User is one simulated person: a conversation of Turns messages.
type User struct {
	// Slot is the user's place in the pool; Gen counts the users that held
	// it before (a new one comes after Turns messages).
	Slot, Gen int
	// ID is the wa_id or PSID, digits.
	ID       string
	Name     string
	Platform corralv1.Platform
	// Channel is the phone number id or Page id written to.
	Channel string
	// Messages are what the user sends, in order; the first switches
	// persona when the scenario names personas.
	Messages []Message
	think    *rand.Rand
}

// Message is one planned message.
type Message struct {
	// ID is the platform message id (wamid or mid).
	ID   string
	Text string
	Turn int
}

var names = []string{"Ana", "Bruno", "Chen", "Dara", "Elif", "Femi", "Greta", "Hugo", "Ines", "Jonas", "Kiri", "Lena", "Malik", "Nora", "Omar", "Pia", "Quinn", "Rosa", "Sami", "Tomas", "Uma", "Vera", "Wen", "Yara", "Zoe"}

// stream numbers of the random streams, so adding one never shifts another.
const (
	streamUser = iota + 1
	streamThink
	streamArrivals
	streamReplay
)

// rngFor is the random stream of (kind, a, b) under seed.
func rngFor(seed uint64, kind, a, b int) *rand.Rand {
	return rand.New(rand.NewPCG(splitmix(seed^splitmix(uint64(kind))), splitmix(uint64(a)<<32^uint64(b))))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// User returns the user holding slot for the gen-th time.
func (p *Planner) User(slot, gen int) *User {
	r := rngFor(p.s.Seed, streamUser, slot, gen)
	u := &User{Slot: slot, Gen: gen, Name: names[r.IntN(len(names))], Platform: p.s.Platforms.Pick(r.Float64()),
		think: rngFor(p.s.Seed, streamThink, slot, gen)}
	// wa_id and PSID: 15 digits, unique per run, slot and generation.
	num := fmt.Sprintf("%06d%05d%03d", p.runID, slot%100_000, gen%1000)
	if u.Platform == corralv1.Platform_PLATFORM_WHATSAPP {
		u.ID, u.Channel = "1"+num, p.s.WhatsAppChannel
	} else {
		u.ID, u.Channel = "7"+num, p.s.MessengerPage
	}
	var texts []string
	if n := len(p.s.Personas); n > 0 {
		texts = append(texts, "/persona @"+p.s.Personas[r.IntN(n)])
	}
	for len(texts) < p.s.Turns {
		texts = append(texts, p.corpus[r.IntN(len(p.corpus))])
	}
	for i, t := range texts {
		id := fmt.Sprintf("LG%s_%03d", num, i)
		if u.Platform == corralv1.Platform_PLATFORM_WHATSAPP {
			id = "wamid." + id
		} else {
			id = "m_" + id
		}
		u.Messages = append(u.Messages, Message{ID: id, Text: t, Turn: i})
	}
	return u
}

// Think returns the user's next think time: exponential with the
// scenario's mean.
func (p *Planner) Think(u *User) time.Duration {
	if p.s.Think <= 0 {
		return 0
	}
	return time.Duration(u.think.ExpFloat64() * float64(p.s.Think))
}

// Arrivals returns the open-loop arrival times.
func (p *Planner) Arrivals() *Arrivals {
	stages, _ := p.s.Plan()
	return &Arrivals{rng: rngFor(p.s.Seed, streamArrivals, 0, 0), stages: stages}
}

// Arrivals are the times, from the start of a run, at which open-loop
// messages are sent: a Poisson process at each stage's rate.
type Arrivals struct {
	rng    *rand.Rand
	stages []Stage
	stage  int
	start  time.Duration // of the current stage
	t      time.Duration
}

// Next returns the next arrival, and false after the last stage.
func (a *Arrivals) Next() (time.Duration, bool) {
	for a.stage < len(a.stages) {
		st := a.stages[a.stage]
		end := a.start + st.Duration.D()
		a.t += time.Duration(a.rng.ExpFloat64() / st.Rate * float64(time.Second))
		if a.t < end {
			return a.t, true
		}
		// Memoryless: the next stage's process starts at its own start.
		a.stage++
		a.start, a.t = end, end
	}
	return 0, false
}
