package serve

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestSettings checks how request fields become generation settings. The
// expected values are the issue's: nothing named gives the seed settings
// InstructBLIP was published with (5 beams, max_length 256, min_length 1,
// repetition_penalty 1.5, length_penalty 1, top_p 0.9, temperature 1, no
// sampling); max_tokens and num_predict are max new tokens; a temperature
// above 0 samples, with one beam unless num_beams is given.
func TestSettings(t *testing.T) {
	type want struct {
		beams, maxLen, maxNew, minLen int
		rep, lenP, topP, temp         float64
		sample                        bool
	}
	seed := want{beams: 5, maxLen: 256, maxNew: 0, minLen: 1, rep: 1.5, lenP: 1, topP: 0.9, temp: 1}
	with := func(f func(*want)) want { w := seed; f(&w); return w }
	tests := []struct {
		name, api, body string
		want            want
	}{
		{"openai nothing", "openai", `{}`, seed},
		{"ollama nothing", "ollama", `{}`, seed},
		{"ollama no options", "ollama", `null`, seed},
		{"max_tokens", "openai", `{"max_tokens": 10}`, with(func(w *want) { w.maxNew = 10 })},
		{"max_completion_tokens", "openai", `{"max_completion_tokens": 12}`, with(func(w *want) { w.maxNew = 12 })},
		{"max_tokens equal to max_new_tokens", "openai", `{"max_tokens": 9, "max_new_tokens": 9}`, with(func(w *want) { w.maxNew = 9 })},
		{"num_predict", "ollama", `{"num_predict": 7}`, with(func(w *want) { w.maxNew = 7 })},
		{"num_predict -1 keeps the seed length", "ollama", `{"num_predict": -1}`, seed},
		{"repeat_penalty", "ollama", `{"repeat_penalty": 1.1}`, with(func(w *want) { w.rep = 1.1 })},
		{"glimpse's fields", "openai", `{"num_beams": 3, "length_penalty": 2, "max_length": 48, "min_length": 5, "repetition_penalty": 1}`,
			with(func(w *want) { w.beams, w.lenP, w.maxLen, w.minLen, w.rep = 3, 2, 48, 5, 1 })},
		{"glimpse's fields in options", "ollama", `{"num_beams": 3, "length_penalty": 2}`, with(func(w *want) { w.beams, w.lenP = 3, 2 })},
		{"temperature samples with one beam", "openai", `{"temperature": 0.7}`, with(func(w *want) { w.sample, w.temp, w.beams = true, 0.7, 1 })},
		{"temperature with beams", "openai", `{"temperature": 0.7, "num_beams": 3}`, with(func(w *want) { w.sample, w.temp, w.beams = true, 0.7, 3 })},
		{"temperature 0 is the seed's search", "openai", `{"temperature": 0}`, seed},
		{"do_sample false wins", "openai", `{"temperature": 0.7, "do_sample": false}`, with(func(w *want) { w.temp = 0.7 })},
		{"do_sample alone", "ollama", `{"do_sample": true, "top_p": 0.5}`, with(func(w *want) { w.sample, w.beams, w.topP = true, 1, 0.5 })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var g *genSettings
			if tt.api == "openai" {
				var req chatRequest
				if err := json.Unmarshal([]byte(tt.body), &req); err != nil {
					t.Fatal(err)
				}
				q, err := sameInt(req.MaxTokens, req.MaxCompletionTokens, "max_tokens", "max_completion_tokens")
				if err != nil {
					t.Fatal(err)
				}
				if req.MaxNewTokens, err = sameInt(q, req.MaxNewTokens, "max_tokens", "max_new_tokens"); err != nil {
					t.Fatal(err)
				}
				g = &req.genSettings
			} else {
				var o *ollamaOptions
				if err := json.Unmarshal([]byte(tt.body), &o); err != nil {
					t.Fatal(err)
				}
				o, err := o.config()
				if err != nil {
					t.Fatal(err)
				}
				g = &o.genSettings
			}
			c, err := g.config("")
			if err != nil {
				t.Fatal(err)
			}
			got := want{beams: c.NumBeams, maxLen: c.MaxLength, maxNew: c.MaxNewTokens, minLen: c.MinLength,
				rep: c.RepetitionPenalty, lenP: c.LengthPenalty, topP: c.TopP, temp: c.Temperature, sample: c.DoSample}
			if got != tt.want {
				t.Errorf("settings\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestStopper feeds answers piece by piece and checks what is passed on:
// never any part of a stop sequence, everything else in order.
func TestStopper(t *testing.T) {
	tests := []struct {
		name   string
		stops  []string
		pieces []string
		want   []string // passed on after each piece, then the flush
		hit    bool
	}{
		{"no stops", nil, []string{"ab", "c"}, []string{"ab", "c", ""}, false},
		{"stop in one piece", []string{"END"}, []string{"abcENDxyz"}, []string{"abc"}, true},
		{"stop across pieces", []string{"END"}, []string{"abc", "E", "N", "Dxyz"}, []string{"abc", "", "", ""}, true},
		{"a false start is released", []string{"END"}, []string{"abE", "x"}, []string{"ab", "Ex", ""}, false},
		{"a false start at the end is flushed", []string{"END"}, []string{"abEN"}, []string{"ab", "EN"}, false},
		{"the earliest stop wins", []string{"ab", "b"}, []string{"xab"}, []string{"x"}, true},
		{"the longest possible start is held", []string{"aab"}, []string{"xaa", "ab"}, []string{"x", "a"}, true},
		{"characters are never split", []string{"é!"}, []string{"café", "?"}, []string{"caf", "é?", ""}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := stopper{stops: tt.stops}
			var got []string
			hit := false
			for _, p := range tt.pieces {
				out, h := s.add(p)
				got = append(got, out)
				if h {
					hit = true
					break
				}
			}
			if !hit {
				got = append(got, s.flush())
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) || hit != tt.hit {
				t.Errorf("passed on %q (stopped %v), want %q (stopped %v)", got, hit, tt.want, tt.hit)
			}
			for _, out := range got {
				for _, stop := range tt.stops {
					if strings.Contains(out, stop) {
						t.Errorf("%q passed on a stop sequence", out)
					}
				}
			}
		})
	}
}
