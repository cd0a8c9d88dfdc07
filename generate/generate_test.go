package generate

import (
	"context"
	"errors"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func run(t *testing.T, s *fnSession, cfg Config, stream func(Event)) []Result {
	t.Helper()
	prefix := s.prompts
	res, err := Generate(context.Background(), s, prefix, cfg, stream)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if s.closes != 1 {
		t.Errorf("session closed %d times, want once", s.closes)
	}
	return res
}

func greedyConfig(maxNew int, eos ...int32) Config {
	cfg := DefaultConfig()
	cfg.MaxNewTokens = maxNew
	cfg.EOS = eos
	return cfg
}

// refGreedy is greedy search written the obvious way, one sequence at a
// time: the reference for the batched search.
func refGreedy(lm func([]int32) []float32, prompt []int32, maxNew int, eos int32) []int32 {
	seq := slices.Clone(prompt)
	for range maxNew {
		l := lm(seq)
		best := 0
		for i := range l {
			if l[i] > l[best] {
				best = i
			}
		}
		seq = append(seq, int32(best))
		if int32(best) == eos {
			break
		}
	}
	return seq
}

// TestGreedyBatch runs greedy search over a batch on the toy model and
// checks each row against the one-sequence reference; rows that end early
// are filled with the pad id up to the batch's length, as transformers does.
func TestGreedyBatch(t *testing.T) {
	for seed := range uint64(30) {
		lm := newToyLM(seed, 8, 5, 2)
		prompts := [][]int32{{1, 2, 3}, {4, 4, 5}, {7, 0, 6}}
		cfg := greedyConfig(12, 3)
		cfg.PadID = 99
		res := run(t, lm.session(prompts...), cfg, nil)
		longest := 0
		for i, p := range prompts {
			want := refGreedy(lm.logits, p, 12, 3)
			longest = max(longest, len(want))
			got := res[i].Sequence
			if !slices.Equal(got[:len(want)], want) {
				t.Fatalf("seed %d row %d: got %v, want %v", seed, i, got, want)
			}
			for _, f := range got[len(want):] {
				if f != 99 {
					t.Fatalf("seed %d row %d: fill %v after %v", seed, i, got[len(want):], want)
				}
			}
			if res[i].NewTokens != len(want)-3 || res[i].EOS != (want[len(want)-1] == 3) {
				t.Errorf("seed %d row %d: NewTokens %d EOS %v for %v", seed, i, res[i].NewTokens, res[i].EOS, want)
			}
		}
		for i := range res {
			if len(res[i].Sequence) != longest {
				t.Errorf("seed %d: row %d has length %d, batch length %d", seed, i, len(res[i].Sequence), longest)
			}
		}
	}
}

// TestLengths checks how max_length, max_new_tokens, min_length and
// min_new_tokens bound a generation whose model always prefers EOS (id 0)
// and otherwise token 1.
func TestLengths(t *testing.T) {
	lm := constLM(5, 4, 0)
	prompt := []int32{2, 2, 2}
	tests := []struct {
		name     string
		set      func(*Config)
		wantNew  int  // generated tokens
		wantEOS  bool // ended with EOS
		noEOSSet bool
	}{
		{"max_new_tokens", func(c *Config) { c.MaxNewTokens = 4 }, 4, false, true},
		{"max_length counts the prompt", func(c *Config) { c.MaxLength = 5 }, 2, false, true},
		{"max_new_tokens overrides max_length", func(c *Config) { c.MaxLength = 5; c.MaxNewTokens = 6 }, 6, false, true},
		{"default is 20 new tokens", func(c *Config) {}, 20, false, true},
		{"EOS ends at once", func(c *Config) { c.MaxNewTokens = 10 }, 1, true, false},
		{"min_new_tokens", func(c *Config) { c.MaxNewTokens = 10; c.MinNewTokens = 3 }, 4, true, false},
		{"min_length counts the prompt", func(c *Config) { c.MaxNewTokens = 10; c.MinLength = 5 }, 3, true, false},
		{"min_new_tokens overrides min_length", func(c *Config) { c.MaxNewTokens = 10; c.MinLength = 9; c.MinNewTokens = 2 }, 3, true, false},
		{"min beyond max stops at max", func(c *Config) { c.MaxNewTokens = 3; c.MinNewTokens = 5 }, 3, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if !tc.noEOSSet {
				cfg.EOS = []int32{0}
			}
			tc.set(&cfg)
			s := &fnSession{prompts: [][]int32{prompt}, logits: lm}
			res := run(t, s, cfg, nil)[0]
			if res.NewTokens != tc.wantNew || res.EOS != tc.wantEOS || len(res.Sequence) != 3+tc.wantNew {
				t.Errorf("got %v (NewTokens %d, EOS %v), want %d new tokens, EOS %v", res.Sequence, res.NewTokens, res.EOS, tc.wantNew, tc.wantEOS)
			}
			// One prefill, then one step per token after the first.
			if s.steps != tc.wantNew-1 {
				t.Errorf("%d steps for %d new tokens", s.steps, tc.wantNew)
			}
		})
	}
}

// TestGreedyProcessors runs greedy search with each processor on constant
// logits, where the effect on the chosen tokens is easy to work out.
func TestGreedyProcessors(t *testing.T) {
	tests := []struct {
		name   string
		logits []float32
		prompt []int32
		set    func(*Config)
		want   []int32 // generated tokens
	}{
		{
			// 0 wins (3 > 2.9); penalised to 2 it loses to 1; with both
			// penalised 2 > 1.93, so 0 again (penalised once however often).
			name: "repetition penalty positive", logits: []float32{3, 2.9, 0}, prompt: []int32{2},
			set: func(c *Config) { c.RepetitionPenalty = 1.5 }, want: []int32{0, 1, 0, 0},
		},
		{
			// Negative logits are multiplied: -1 → -1.5 loses to -1.2;
			// then -1.5 > -1.8.
			name: "repetition penalty negative", logits: []float32{-1, -1.2, -5}, prompt: []int32{2},
			set: func(c *Config) { c.RepetitionPenalty = 1.5 }, want: []int32{0, 1, 0, 0},
		},
		{
			// The prompt counts: token 0 in the prompt is penalised from
			// the first step.
			name: "repetition penalty covers the prompt", logits: []float32{3, 2.9, 0}, prompt: []int32{0},
			set: func(c *Config) { c.RepetitionPenalty = 1.5 }, want: []int32{1, 0, 0},
		},
		{
			// See TestProcessors: 0 0 then (0,0) is banned → 1, then 0,
			// then both (0,0) and (0,1) are banned → 2.
			name: "no repeat bigram", logits: []float32{3, 2, 1, 0, -1, -2}, prompt: []int32{5},
			set: func(c *Config) { c.NoRepeatNgramSize = 2 }, want: []int32{0, 0, 1, 0, 2},
		},
		{
			name: "suppress", logits: []float32{3, 2, 1}, prompt: []int32{2},
			set: func(c *Config) { c.Suppress = []int32{0} }, want: []int32{1, 1, 1},
		},
		{
			// top_k 1 makes sampling greedy whatever the seed.
			name: "sampling with top_k 1", logits: []float32{1, 3, 2}, prompt: []int32{0},
			set: func(c *Config) { c.DoSample = true; c.TopK = 1; c.Seed = 42 }, want: []int32{1, 1, 1},
		},
		{
			name: "sampling with tiny top_p", logits: []float32{1, 3, 2}, prompt: []int32{0},
			set: func(c *Config) { c.DoSample = true; c.TopP = 1e-6; c.Seed = 7 }, want: []int32{1, 1, 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := greedyConfig(len(tc.want))
			tc.set(&cfg)
			s := &fnSession{prompts: [][]int32{tc.prompt}, logits: constLM(tc.logits...)}
			res := run(t, s, cfg, nil)[0]
			if got := res.Sequence[len(tc.prompt):]; !slices.Equal(got, tc.want) {
				t.Errorf("generated %v, want %v", got, tc.want)
			}
		})
	}
}

// TestSamplingSeed checks that a seed reproduces its samples, that seeds
// differ, and that num_return_sequences expands each row.
func TestSamplingSeed(t *testing.T) {
	lm := newToyLM(5, 16, 7, 0.5) // flat-ish distributions: samples vary
	gen := func(seed uint64) []Result {
		cfg := greedyConfig(10)
		cfg.DoSample = true
		cfg.Seed = seed
		cfg.NumReturnSequences = 3
		s := lm.session([]int32{1, 2}, []int32{3, 4})
		res := run(t, s, cfg, nil)
		if len(s.reorders) != 1 || !slices.Equal(s.reorders[0], []int32{0, 0, 0, 1, 1, 1}) {
			t.Errorf("reorders %v, want one expansion [0 0 0 1 1 1]", s.reorders)
		}
		return res
	}
	a, b := gen(11), gen(11)
	if len(a) != 6 {
		t.Fatalf("%d results, want 2 rows × 3", len(a))
	}
	for i := range a {
		if !slices.Equal(a[i].Sequence, b[i].Sequence) {
			t.Errorf("seed 11 gave %v then %v", a[i].Sequence, b[i].Sequence)
		}
		want := []int32{1, 2}
		if i >= 3 {
			want = []int32{3, 4}
		}
		if !slices.Equal(a[i].Sequence[:2], want) {
			t.Errorf("result %d starts %v, want row prompt %v", i, a[i].Sequence[:2], want)
		}
	}
	if slices.Equal(a[0].Sequence, a[1].Sequence) && slices.Equal(a[1].Sequence, a[2].Sequence) {
		t.Errorf("three samples of one row are identical: %v", a[0].Sequence)
	}
	differs := false
	for seed := uint64(12); seed < 20 && !differs; seed++ {
		differs = !slices.Equal(gen(seed)[0].Sequence, a[0].Sequence)
	}
	if !differs {
		t.Error("eight other seeds all reproduced seed 11's sample")
	}
}

// TestSamplingDistribution checks the first sampled token's frequency over
// many seeds against the tempered, filtered distribution.
func TestSamplingDistribution(t *testing.T) {
	// p = (0.5, 0.25, 0.15, 0.1); temperature 0.5 squares and renormalises:
	// (0.25, 0.0625, 0.0225, 0.01)/0.345; top_k 3 drops the last.
	logits := []float32{float32(math.Log(0.5)), float32(math.Log(0.25)), float32(math.Log(0.15)), float32(math.Log(0.1))}
	want := []float64{0.25 / 0.335, 0.0625 / 0.335, 0.0225 / 0.335, 0}
	const n = 20000
	counts := make([]int, 4)
	for seed := range uint64(n) {
		cfg := greedyConfig(1)
		cfg.DoSample = true
		cfg.Temperature = 0.5
		cfg.TopK = 3
		cfg.Seed = seed
		res, err := Generate(context.Background(), &fnSession{prompts: [][]int32{{0}}, logits: constLM(logits...)}, [][]int32{{0}}, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		counts[res[0].Sequence[1]]++
	}
	for i, w := range want {
		if got := float64(counts[i]) / n; math.Abs(got-w) > 0.015 {
			t.Errorf("token %d sampled %.3f of the time, want %.3f", i, got, w)
		}
	}
}

// TestConfigErrors checks that settings transformers refuses are refused
// with ErrConfig and that the session is still closed.
func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name   string
		set    func(*Config)
		prefix [][]int32
	}{
		{"prompt reaches max_length", func(c *Config) { c.MaxLength = 3 }, [][]int32{{1, 2, 3}}},
		{"ragged batch", func(c *Config) {}, [][]int32{{1, 2}, {1}}},
		{"empty prompt", func(c *Config) {}, [][]int32{{}}},
		{"no prompts", func(c *Config) {}, nil},
		{"zero beams", func(c *Config) { c.NumBeams = 0 }, [][]int32{{1}}},
		{"more returns than beams", func(c *Config) { c.NumBeams = 2; c.NumReturnSequences = 3 }, [][]int32{{1}}},
		{"greedy with several returns", func(c *Config) { c.NumReturnSequences = 2 }, [][]int32{{1}}},
		{"zero repetition penalty", func(c *Config) { c.RepetitionPenalty = 0 }, [][]int32{{1}}},
		{"zero temperature when sampling", func(c *Config) { c.DoSample = true; c.Temperature = 0 }, [][]int32{{1}}},
		{"top_p above one", func(c *Config) { c.DoSample = true; c.TopP = 1.5 }, [][]int32{{1}}},
		{"negative top_k", func(c *Config) { c.TopK = -1 }, [][]int32{{1}}},
		{"negative max_new_tokens", func(c *Config) { c.MaxNewTokens = -1 }, [][]int32{{1}}},
		{"bad early stopping", func(c *Config) { c.EarlyStopping = 7 }, [][]int32{{1}}},
		// Hostile values: none may overflow, allocate or run.
		{"max_new_tokens past the context", func(c *Config) { c.PositionLimit = 2048; c.MaxNewTokens = 1_000_000_000 }, [][]int32{{1}}},
		{"max_new_tokens at MaxInt", func(c *Config) { c.MaxNewTokens = math.MaxInt }, [][]int32{{1}}},
		{"max_length past the context", func(c *Config) { c.PositionLimit = 2048; c.MaxLength = 1_000_000_000 }, [][]int32{{1}}},
		{"max_length at MaxInt", func(c *Config) { c.MaxLength = math.MaxInt }, [][]int32{{1}}},
		{"prompt fills the context", func(c *Config) { c.PositionLimit = 2 }, [][]int32{{1, 2}}},
		{"min_length past the context", func(c *Config) { c.PositionLimit = 64; c.MinLength = 100 }, [][]int32{{1}}},
		{"infinite temperature when sampling", func(c *Config) { c.DoSample = true; c.Temperature = math.Inf(1) }, [][]int32{{1}}},
		{"NaN temperature", func(c *Config) { c.Temperature = math.NaN() }, [][]int32{{1}}},
		{"NaN top_p", func(c *Config) { c.TopP = math.NaN() }, [][]int32{{1}}},
		{"NaN length penalty", func(c *Config) { c.NumBeams = 2; c.LengthPenalty = math.NaN() }, [][]int32{{1}}},
		{"infinite length penalty", func(c *Config) { c.LengthPenalty = math.Inf(-1) }, [][]int32{{1}}},
		{"NaN repetition penalty", func(c *Config) { c.RepetitionPenalty = math.NaN() }, [][]int32{{1}}},
		{"infinite repetition penalty", func(c *Config) { c.RepetitionPenalty = math.Inf(1) }, [][]int32{{1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.set(&cfg)
			s := &fnSession{prompts: tc.prefix, logits: constLM(1, 2)}
			_, err := Generate(context.Background(), s, tc.prefix, cfg, nil)
			if !errors.Is(err, ErrConfig) {
				t.Errorf("got %v, want ErrConfig", err)
			}
			if s.closes != 1 || s.prefills != 0 {
				t.Errorf("closes %d prefills %d, want 1 and 0", s.closes, s.prefills)
			}
		})
	}
}

// byteDecoder decodes ids as bytes (id 0 is EOS and never decoded here),
// turning each byte of an invalid or unfinished UTF-8 sequence into U+FFFD,
// like a byte-fallback tokenizer's decoder.
func byteDecoder(bytes map[int32]string) func([]int32) string {
	return func(ids []int32) string {
		var b strings.Builder
		for _, id := range ids {
			b.WriteString(bytes[id])
		}
		return string([]rune(b.String()))
	}
}

// scripted returns logits that make greedy search follow script.
func scripted(prefixLen int, script []int32, vocab int) func([]int32) []float32 {
	return func(seq []int32) []float32 {
		l := make([]float32, vocab)
		l[script[len(seq)-prefixLen]] = 1
		return l
	}
}

// TestStreamUTF8 streams a greedy generation that spells "é" and "€" with
// byte tokens, has a stray byte, and ends inside a character: no event may
// end in a held-back U+FFFD or split a character, and the events add up to
// the final text.
func TestStreamUTF8(t *testing.T) {
	bytes := map[int32]string{1: "a", 2: "b", 3: "\xC3", 4: "\xA9", 5: "\xE2", 6: "\x82", 7: "\xAC"}
	script := []int32{1, 3, 4, 5, 6, 7, 3, 2, 5, 6, 0}
	cfg := greedyConfig(20, 0)
	cfg.Decode = byteDecoder(bytes)
	var texts []string
	var finals int
	s := &fnSession{prompts: [][]int32{{9}}, logits: scripted(1, script, 10)}
	res := run(t, s, cfg, func(e Event) {
		if e.Index != 0 {
			t.Errorf("event for sequence %d", e.Index)
		}
		if e.Final {
			finals++
		}
		if e.Text != "" {
			texts = append(texts, e.Text)
		}
	})
	want := []string{"a", "é", "€", "\uFFFDb", "\uFFFD\uFFFD"}
	if !slices.Equal(texts, want) {
		t.Errorf("streamed %q, want %q", texts, want)
	}
	if finals != 1 {
		t.Errorf("%d final events, want 1", finals)
	}
	if got := strings.Join(texts, ""); got != res[0].Text || res[0].Text != "aé€\uFFFDb\uFFFD\uFFFD" {
		t.Errorf("streamed %q, result text %q", got, res[0].Text)
	}
	for _, s := range texts {
		if !utf8.ValidString(s) {
			t.Errorf("event text %q is not valid UTF-8", s)
		}
	}
}

// runDecoder decodes like tokenizers' ByteFallback decoder: text tokens as
// they are, and each run of byte tokens as its bytes when they form valid
// UTF-8, else as one U+FFFD per byte. So a byte's text can change when the
// next byte arrives ("p" then "p\xE7" → "\uFFFD\uFFFD").
func runDecoder(text map[int32]string, bytes map[int32]byte) func([]int32) string {
	return func(ids []int32) string {
		var out strings.Builder
		var run []byte
		flush := func() {
			if utf8.Valid(run) {
				out.Write(run)
			} else {
				out.WriteString(strings.Repeat("\uFFFD", len(run)))
			}
			run = run[:0]
		}
		for _, id := range ids {
			if b, ok := bytes[id]; ok {
				run = append(run, b)
				continue
			}
			flush()
			out.WriteString(text[id])
		}
		flush()
		return out.String()
	}
}

// TestStreamByteFallbackRuns streams through a decoder whose byte runs
// change text already decoded: with Config.Partial the run is held back
// until it ends, so "p" is never sent before it turns into U+FFFD.
func TestStreamByteFallbackRuns(t *testing.T) {
	text := map[int32]string{1: "a", 2: "b"}
	bytes := map[int32]byte{10: 'p', 11: 0xE7, 12: 0xC3, 13: 0xA9}
	names := map[int32]string{0: "</s>", 1: "a", 2: "b", 10: "<0x70>", 11: "<0xE7>", 12: "<0xC3>", 13: "<0xA9>"}
	script := []int32{1, 10, 11, 2, 12, 13, 2, 0}
	cfg := greedyConfig(20, 0)
	cfg.Decode = runDecoder(text, bytes)
	cfg.Partial = ByteFallback(func(id int32) (string, bool) { s, ok := names[id]; return s, ok })
	var texts []string
	s := &fnSession{prompts: [][]int32{{9}}, logits: scripted(1, script, 14)}
	res := run(t, s, cfg, func(e Event) {
		if e.Text != "" {
			texts = append(texts, e.Text)
		}
	})
	want := []string{"a", "\uFFFD\uFFFDb", "éb"}
	if !slices.Equal(texts, want) || res[0].Text != "a\uFFFD\uFFFDbéb" {
		t.Errorf("streamed %q (result %q), want %q", texts, res[0].Text, want)
	}
}

func TestByteFallback(t *testing.T) {
	names := []string{"<0x70>", "<0xe7>", "<0x7>", "<0xZZ>", "0x70>", "▁the", "<0x700>"}
	is := ByteFallback(func(id int32) (string, bool) {
		if int(id) < len(names) {
			return names[id], true
		}
		return "", false
	})
	want := []bool{true, true, false, false, false, false, false, false}
	for id, w := range want {
		if got := is(int32(id)); got != w {
			t.Errorf("id %d: %v, want %v", id, got, w)
		}
	}
}

// TestTextStream covers the streamer's hold-back rules directly, including
// a decoder that returns raw bytes and one that rewrites sent text.
func TestTextStream(t *testing.T) {
	tests := []struct {
		name      string
		decodings []string // successive decodings; the last is final
		want      []string
	}{
		{"plain", []string{"a", "ab", "abc"}, []string{"a", "b", "c"}},
		{"replacement held", []string{"a\uFFFD", "a\uFFFD\uFFFD", "aé"}, []string{"a", "", "é"}},
		{"raw incomplete bytes held", []string{"a\xE2", "a\xE2\x82", "a€"}, []string{"a", "", "€"}},
		{"final flushes", []string{"a", "a\uFFFD"}, []string{"a", "\uFFFD"}},
		{"rewrite waits for the end", []string{"ab", "xy", "xyz"}, []string{"ab", "", "xyz"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ts textStream
			var got []string
			for i, d := range tc.decodings {
				got = append(got, ts.next(d, i == len(tc.decodings)-1))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCancel cancels from the stream callback and from inside a model step,
// for greedy and beam search: Generate stops within one step, closes the
// session and returns the context's error.
func TestCancel(t *testing.T) {
	lm := newToyLM(3, 6, 4, 1)
	for _, beams := range []int{1, 3} {
		t.Run("callback", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s := lm.session([]int32{1})
			cfg := greedyConfig(30)
			cfg.NumBeams = beams
			events := 0
			_, err := Generate(ctx, s, s.prompts, cfg, func(Event) {
				events++
				if events == 3 {
					cancel()
				}
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("got %v, want context.Canceled", err)
			}
			// The third event follows the second step's logits.
			if s.steps != 2 || s.closes != 1 {
				t.Errorf("beams %d: %d steps, %d closes; want 2 and 1", beams, s.steps, s.closes)
			}
		})
		t.Run("inside step", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s := lm.session([]int32{1})
			s.onStep = func(ctx context.Context, n int) error {
				if n == 4 {
					cancel()
					return errors.New("interrupted: " + ctx.Err().Error())
				}
				return nil
			}
			cfg := greedyConfig(30)
			cfg.NumBeams = beams
			_, err := Generate(ctx, s, s.prompts, cfg, nil)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("got %v, want context.Canceled", err)
			}
			if s.steps != 4 || s.closes != 1 {
				t.Errorf("beams %d: %d steps, %d closes; want 4 and 1", beams, s.steps, s.closes)
			}
		})
	}
	t.Run("before start", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		s := lm.session([]int32{1})
		if _, err := Generate(ctx, s, s.prompts, greedyConfig(5), nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
		if s.prefills != 0 || s.closes != 1 {
			t.Errorf("prefills %d closes %d", s.prefills, s.closes)
		}
	})
}

// TestLengthLimitMessages checks that refused lengths name the user's
// number and the model's limit, never an overflowed sum, and that a length
// that just fits still generates.
func TestLengthLimitMessages(t *testing.T) {
	prefix := [][]int32{{1, 1, 1}}
	for _, tc := range []struct {
		name      string
		set       func(*Config)
		wantParts []string
	}{
		{"max_new_tokens MaxInt64", func(c *Config) { c.MaxNewTokens = math.MaxInt64 }, []string{"max_new_tokens 9223372036854775807", "2147483647 positions"}},
		{"max_new_tokens past 2048", func(c *Config) { c.PositionLimit = 2048; c.MaxNewTokens = 1_000_000_000 }, []string{"max_new_tokens 1000000000", "2048 positions", "at most 2045 new tokens"}},
		{"max_length past 2048", func(c *Config) { c.PositionLimit = 2048; c.MaxLength = 1_000_000_000 }, []string{"max_length 1000000000", "2048 positions"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.set(&cfg)
			_, err := Generate(context.Background(), &fnSession{prompts: prefix, logits: constLM(1, 2)}, prefix, cfg, nil)
			if err == nil {
				t.Fatal("no error")
			}
			for _, p := range tc.wantParts {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error %q lacks %q", err, p)
				}
			}
			if regexp.MustCompile(`-\d`).MatchString(err.Error()) {
				t.Errorf("error %q holds a negative number", err)
			}
		})
	}
	cfg := DefaultConfig()
	cfg.PositionLimit, cfg.MaxNewTokens = 5, 2
	if _, err := Generate(context.Background(), &fnSession{prompts: prefix, logits: constLM(1, 2)}, prefix, cfg, nil); err != nil {
		t.Errorf("3-token prompt + 2 new tokens in 5 positions: %v", err)
	}
}
