package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestBench(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"bench", "--model", "../../shared/fixtures/models/tiny-instructblip-vicuna",
		"--backend", "cpu", "--tokens", "4", "--beams", "2", "--runs", "1", "--json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var r benchResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v in %q", err, out.String())
	}
	if r.Backend != "cpu" || r.Precision != "fp32" || r.PromptTokens != 22 || r.Tokens != 4 || r.Beams != 2 {
		t.Errorf("result %+v", r)
	}
	for name, v := range map[string]float64{"first token": r.FirstTokenMS, "greedy": r.GreedyTokensPS, "beam": r.BeamStepsPS} {
		if v <= 0 {
			t.Errorf("%s not measured: %+v", name, r)
		}
	}
	// The tiny Vicuna's step on the CPU: six fused ops per layer of its 3,
	// the embedding, the head and the two of token selection on the
	// device; keys and values written in place (no copies); only the
	// chosen id read back (4 bytes).
	want := stepCounts{Dispatches: 6*3 + 2 + 2, Readbacks: 1, ReadbackBytes: 4}
	if r.Counts.DecodeStep != want {
		t.Errorf("decode step counts %+v, want %+v", r.Counts.DecodeStep, want)
	}
	if r.Counts.FirstToken.Dispatches <= want.Dispatches || r.Counts.BeamStep == nil || r.Counts.BeamStep.Readbacks != 1 {
		t.Errorf("first token counts %+v, beam step %+v", r.Counts.FirstToken, r.Counts.BeamStep)
	}
}

func TestBenchUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"bench"}, 2, "Usage: glimpse bench"},
		{[]string{"bench", "--model", "x", "--tokens", "0"}, 2, "Usage"},
		{[]string{"bench", "--model", "/nonexistent/model"}, 1, "neither a folder nor an installed model"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		if code := run(tt.args, &out, &errb); code != tt.code || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args, code, errb.String(), tt.code, tt.want)
		}
	}
}
