package generate

import (
	"cmp"
	"context"
	"math"
	"slices"
	"testing"
)

func beamConfig(beams, maxNew int, lp float64, early EarlyStopping, eos ...int32) Config {
	cfg := DefaultConfig()
	cfg.NumBeams = beams
	cfg.MaxNewTokens = maxNew
	cfg.LengthPenalty = lp
	cfg.EarlyStopping = early
	cfg.EOS = eos
	return cfg
}

type hypothesis struct {
	seq   []int32
	score float32
}

// exhaustive scores every finished continuation of prompt (ended by EOS or
// by reaching maxNew tokens) the way beam search scores them: float32 sums
// of log-probabilities, divided by float32(length**lp).
func exhaustive(lm func([]int32) []float32, prompt []int32, maxNew int, eos int32, lp float64) []hypothesis {
	var out []hypothesis
	var walk func(seq []int32, sum float32)
	walk = func(seq []int32, sum float32) {
		l := logSoftmax32(lm(seq))
		for tok, v := range l {
			next := append(slices.Clone(seq), int32(tok))
			s := sum + v
			n := len(next) - len(prompt)
			if int32(tok) == eos || n == maxNew {
				out = append(out, hypothesis{next, s / float32(math.Pow(float64(n), lp))})
				continue
			}
			walk(next, s)
		}
	}
	walk(slices.Clone(prompt), 0)
	slices.SortStableFunc(out, func(a, b hypothesis) int { return cmp.Compare(b.score, a.score) })
	return out
}

// TestBeamExhaustive checks beam search against exhaustive search on small
// random models. With more beams than there are live prefixes, and a
// stopping rule that is an upper bound on what running beams can still
// reach (early_stopping="never" with length_penalty >= 0, or the heuristic
// with length_penalty 0, where scores only fall), beam search is exact: its
// num_return_sequences best hypotheses must be the exhaustive top ones.
func TestBeamExhaustive(t *testing.T) {
	for seed := range uint64(25) {
		lm := newToyLM(seed, 4, 6, 1.5)
		for _, c := range []struct {
			lp    float64
			early EarlyStopping
		}{{0, EarlyStopNever}, {1, EarlyStopNever}, {2, EarlyStopNever}, {0, EarlyStopHeuristic}} {
			cfg := beamConfig(16, 3, c.lp, c.early, 0)
			cfg.NumReturnSequences = 3
			cfg.PadID = 0
			prompt := []int32{int32(seed % 4), 1}
			res := run(t, lm.session(prompt), cfg, nil)
			want := exhaustive(lm.logits, prompt, 3, 0, c.lp)
			for i := range 3 {
				got := res[i].Sequence[:len(prompt)+res[i].NewTokens]
				if !slices.Equal(got, want[i].seq) || math.Abs(float64(res[i].Score-want[i].score)) > 1e-6 {
					t.Fatalf("seed %d lp %v early %v: result %d is %v (%v), want %v (%v)",
						seed, c.lp, c.early, i, got, res[i].Score, want[i].seq, want[i].score)
				}
			}
		}
	}
}

// scenarioA is a model where a short answer finishes first and a longer,
// more confident one finishes later (tokens: _ pad, E end, a b c). Worked
// by hand with num_beams 2, length_penalty 1, max_new_tokens 4:
//
//	step 1: a −0.693, b −1.204 run; E ranks third and may not finish.
//	step 2: aE −1.204 finishes (score −0.602); bc −1.309 and aa −2.303 run.
//	step 3: aaE −2.660 finishes (−0.887): both finished slots are full, so
//	        early_stopping=True stops with [aE, aaE]. The heuristic goes on,
//	        since bcc −1.360/3 = −0.453 beats the worst finished −0.887.
//	step 4: bccE −1.391 finishes (−0.348) and wins: [bccE, aE].
//
// With length_penalty 0 scores are plain sums and aE (−1.204) beats bccE
// (−1.391): [aE, bccE].
func scenarioA() *probTable {
	return &probTable{
		prefixLen: 1,
		names:     "_Eabc",
		probs: map[string]map[byte]float64{
			"":    {'a': .5, 'b': .3, 'E': .15, 'c': .05},
			"a":   {'E': .6, 'a': .2, 'b': .1, 'c': .1},
			"b":   {'c': .9, 'a': .05, 'b': .03, 'E': .02},
			"aa":  {'E': .7, 'a': .1, 'b': .1, 'c': .1},
			"bc":  {'c': .95, 'E': .03, 'a': .01, 'b': .01},
			"bcc": {'E': .97, 'a': .01, 'b': .01, 'c': .01},
		},
		fallback: map[byte]float64{'E': .25, 'a': .25, 'b': .25, 'c': .25},
	}
}

// scenarioB separates the heuristic from early_stopping="never": after step
// 2 aE (−1.04/2 = −0.52) and bE (−1.06/2 = −0.53) have finished and ac
// (−2.0) runs. The heuristic scores ac at its current length, −1.0, below
// the worst finished, and stops with [aE, bE]; "never" scores it at
// max_length, −0.5, above −0.53, goes on, and finds accE (−2.015/4 =
// −0.504): [accE, aE].
func scenarioB() *probTable {
	e := math.Exp
	return &probTable{
		prefixLen: 1,
		names:     "_Eabc",
		probs: map[string]map[byte]float64{
			"":    {'a': .55, 'b': .40, 'c': .04, 'E': .01},
			"a":   {'E': e(-1.04 + 0.598), 'c': e(-2.0 + 0.598), 'a': .06, 'b': .05},
			"b":   {'E': e(-1.06 + 0.916), 'c': .11, 'a': .014, 'b': .01},
			"ac":  {'c': .995, 'E': .002, 'a': .0015, 'b': .0015},
			"acc": {'E': .99, 'a': .004, 'b': .003, 'c': .003},
		},
		fallback: map[byte]float64{'E': .25, 'a': .25, 'b': .25, 'c': .25},
	}
}

func letters(names string, seq []int32) string {
	b := make([]byte, len(seq))
	for i, id := range seq {
		b[i] = names[id]
	}
	return string(b)
}

// TestBeamEarlyStopping runs the hand-worked scenarios under each
// early_stopping rule and length penalty.
func TestBeamEarlyStopping(t *testing.T) {
	tests := []struct {
		name   string
		model  *probTable
		lp     float64
		early  EarlyStopping
		want   []string // returned sequences as letters, fill included
		scores []float64
		steps  int
	}{
		{"A early_stopping=True", scenarioA(), 1, EarlyStopAll, []string{"caE_", "caaE"}, []float64{-0.602, -0.887}, 2},
		{"A early_stopping=False", scenarioA(), 1, EarlyStopHeuristic, []string{"cbccE", "caE__"}, []float64{-0.348, -0.602}, 3},
		{"A early_stopping=never", scenarioA(), 1, EarlyStopNever, []string{"cbccE", "caE__"}, []float64{-0.348, -0.602}, 3},
		{"A length_penalty 0", scenarioA(), 0, EarlyStopHeuristic, []string{"caE__", "cbccE"}, []float64{-1.204, -1.391}, 3},
		{"B early_stopping=False", scenarioB(), 1, EarlyStopHeuristic, []string{"caE", "cbE"}, []float64{-0.52, -0.53}, 1},
		{"B early_stopping=True", scenarioB(), 1, EarlyStopAll, []string{"caE", "cbE"}, []float64{-0.52, -0.53}, 1},
		{"B early_stopping=never", scenarioB(), 1, EarlyStopNever, []string{"caccE", "caE__"}, []float64{-0.504, -0.52}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := beamConfig(2, 4, tc.lp, tc.early, 1)
			cfg.NumReturnSequences = 2
			cfg.PadID = 0 // transformers then fills beams with eos_token_id[0]
			s := &fnSession{prompts: [][]int32{{4}}, logits: tc.model.logits}
			res := run(t, s, cfg, nil)
			for i, r := range res {
				got := letters(tc.model.names, r.Sequence)
				// PadID 0 means fill with EOS (id 1, letter E).
				want := tc.want[i]
				for len(want) < len(got) {
					want += "_"
				}
				wantFilled := []byte(want)
				for j := range wantFilled {
					if wantFilled[j] == '_' {
						wantFilled[j] = 'E'
					}
				}
				if got != string(wantFilled) || math.Abs(float64(r.Score)-tc.scores[i]) > 2e-3 {
					t.Errorf("result %d: %s (%.4f), want %s (%.3f)", i, got, r.Score, wantFilled, tc.scores[i])
				}
			}
			if s.steps != tc.steps {
				t.Errorf("%d model steps, want %d", s.steps, tc.steps)
			}
		})
	}
}

// TestBeamFill checks the fill of shorter beam results: pad_token_id when
// it is not 0.
func TestBeamFill(t *testing.T) {
	cfg := beamConfig(2, 4, 1, EarlyStopHeuristic, 1)
	cfg.NumReturnSequences = 2
	cfg.PadID = 5
	m := scenarioA()
	m.names += "P" // id 5, never likely
	s := &fnSession{prompts: [][]int32{{4}}, logits: m.logits}
	res := run(t, s, cfg, nil)
	want := [][]int32{{4, 3, 4, 4, 1}, {4, 2, 1, 5, 5}} // cbccE, caE + fill
	wantNew := []int{4, 2}
	for i, r := range res {
		if !slices.Equal(r.Sequence, want[i]) || r.NewTokens != wantNew[i] || !r.EOS {
			t.Errorf("result %d: %v (NewTokens %d, EOS %v), want %v", i, r.Sequence, r.NewTokens, r.EOS, want[i])
		}
	}
}

// TestBeamBatch checks that each batch row runs its own beams: a batch of
// three gives each row what it gives alone (up to the batch-wide length).
func TestBeamBatch(t *testing.T) {
	for seed := range uint64(10) {
		lm := newToyLM(100+seed, 9, 5, 1.2)
		prompts := [][]int32{{1, 2}, {3, 4}, {5, 6}}
		cfg := beamConfig(3, 8, 1, EarlyStopHeuristic, 0)
		cfg.PadID = 7
		cfg.NoRepeatNgramSize = 2
		cfg.RepetitionPenalty = 1.3
		s := lm.session(prompts...)
		res := run(t, s, cfg, nil)
		if len(s.reorders) == 0 || !slices.Equal(s.reorders[0], []int32{0, 0, 0, 1, 1, 1, 2, 2, 2}) {
			t.Fatalf("first reorder %v, want the expansion to 3 beams per row", s.reorders[:min(1, len(s.reorders))])
		}
		for i, p := range prompts {
			alone := run(t, lm.session(p), cfg, nil)[0]
			n := len(p) + alone.NewTokens
			if !slices.Equal(res[i].Sequence[:n], alone.Sequence[:n]) || res[i].Score != alone.Score {
				t.Errorf("seed %d row %d: batched %v (%v), alone %v (%v)", seed, i, res[i].Sequence, res[i].Score, alone.Sequence, alone.Score)
			}
		}
	}
}

// TestBeamSample checks beam sampling: reproducible per seed, valid
// sequences, and top_k 1 reducing it to deterministic choices.
func TestBeamSample(t *testing.T) {
	lm := newToyLM(8, 12, 6, 0.7)
	gen := func(seed uint64) []Result {
		cfg := beamConfig(3, 6, 1, EarlyStopHeuristic, 0)
		cfg.DoSample = true
		cfg.Seed = seed
		cfg.NumReturnSequences = 2
		return run(t, lm.session([]int32{1, 2}), cfg, nil)
	}
	a, b := gen(5), gen(5)
	for i := range a {
		if !slices.Equal(a[i].Sequence, b[i].Sequence) || a[i].Score != b[i].Score {
			t.Errorf("seed 5 gave %v then %v", a[i].Sequence, b[i].Sequence)
		}
		if !slices.Equal(a[i].Sequence[:2], []int32{1, 2}) || len(a[i].Sequence) > 8 {
			t.Errorf("bad sequence %v", a[i].Sequence)
		}
	}
	if a[0].Score < a[1].Score {
		t.Errorf("results not best first: %v then %v", a[0].Score, a[1].Score)
	}
}

// TestBeamProgressEvents checks the beam stream: one progress event per
// step, then one final event per returned sequence with its whole text.
func TestBeamProgressEvents(t *testing.T) {
	lm := newToyLM(9, 6, 5, 1)
	cfg := beamConfig(3, 5, 1, EarlyStopHeuristic)
	cfg.NumReturnSequences = 2
	cfg.Decode = func(ids []int32) string { return letters("abcdef", ids) }
	var progress []int
	var finals []Event
	res, err := Generate(context.Background(), lm.session([]int32{0}), [][]int32{{0}}, cfg, func(e Event) {
		if e.Index < 0 {
			progress = append(progress, e.Step)
			if e.Text != "" || e.Final || e.MaxSteps != 5 {
				t.Errorf("progress event %+v", e)
			}
			return
		}
		finals = append(finals, e)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(progress, []int{1, 2, 3, 4, 5}) {
		t.Errorf("progress steps %v, want 1..5 (no EOS: runs to max length)", progress)
	}
	if len(finals) != 2 {
		t.Fatalf("%d final events, want 2", len(finals))
	}
	for i, e := range finals {
		if e.Index != i || !e.Final || e.Text != res[i].Text || len(e.Text) != 5 {
			t.Errorf("final event %+v for result text %q", e, res[i].Text)
		}
	}
}
