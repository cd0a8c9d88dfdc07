package model

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"glimpse/compute"
)

// TestStepCounts holds the device work of one decoding step of the tiny
// Vicuna fixture (3 layers) to today's counts, as upper bounds: a change
// that adds a dispatch, a barrier, an upload, a copy or a readback to every
// step fails here, where a timing could not be asserted. Counts are
// deterministic for a sequence of operations; they depend on the backend,
// not on the machine (llvmpipe and a GPU count alike, but for the kernel
// variants, which do not change the number of dispatches). A bound that
// can be lowered after an improvement should be. docs/PERFORMANCE.md says
// how far these are from the targets.
func TestStepCounts(t *testing.T) {
	f := loadFixtures(t)[0]
	if f.name != "tiny-instructblip-vicuna" {
		t.Fatalf("fixture 0 is %s, want the Vicuna one", f.name)
	}
	// The beam step uploads the cache's rows index, [3, capacity] F32: the
	// prompt and the 64 positions a session without Reserve starts with.
	index := int64(3 * 4 * (len(f.inputs(t, 0).InputIDs[0]) + initialCapacity))
	layers := int64(3)
	tests := []struct {
		backend string
		// beams 1: a greedy step; 3: a beam step, the cache reordered
		// (1,0,2) of three live sequences before it.
		beams int
		max   compute.Counts
	}{
		// Six dispatches per layer (the q/k/v projections as one with the
		// norm as their prologue, SplitQKV (RoPE and the cache write),
		// attention, the output projection with the residual, gate and up
		// as one with the norm, down with the residual), plus the
		// embedding and the head with the final norm; no upload but the
		// token id (positions and the padding mask stay on the device); no
		// KV copies. Before the fused kernels: 16 dispatches per layer, 39
		// barriers, 2 uploads (token and positions), 6 copies (the KV
		// appends). TestSelectStepCounts adds token selection and holds
		// the step to issue #14's bounds.
		{"gl", 1, compute.Counts{Dispatches: 6*layers + 2, Barriers: 6*layers + 2, Uploads: 1, UploadBytes: 4, Copies: 0, Readbacks: 1, ReadbackBytes: 4008}},
		// Reorder rewrites the rows index that attention reads instead of
		// gathering the cache (before: 36 copies of whole capacities).
		{"gl", 3, compute.Counts{Dispatches: 6*layers + 2, Barriers: 6*layers + 2, Uploads: 2, UploadBytes: 12 + index, Copies: 0, Readbacks: 1, ReadbackBytes: 12024}},
		{"cpu", 1, compute.Counts{Dispatches: 6*layers + 2, Copies: 0, Readbacks: 1, ReadbackBytes: 4008}},
	}
	for _, tc := range tests {
		t.Run(tc.backend+map[bool]string{true: "/greedy", false: "/beam"}[tc.beams == 1], func(t *testing.T) {
			m := sharedModel(t, tc.backend, f, compute.F32)
			ctx := context.Background()
			s, err := m.NewSession(f.inputs(t, 0))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Prefill(ctx); err != nil {
				t.Fatal(err)
			}
			tokens := []int32{5}
			if tc.beams > 1 {
				dup := make([]int32, tc.beams)
				if err := s.Reorder(dup); err != nil {
					t.Fatal(err)
				}
				tokens = make([]int32, tc.beams)
				for i := range tokens {
					tokens[i] = int32(5 + i)
				}
				// The first step after the duplication, so that the
				// measured one reorders distinct sequences.
				if _, err := s.Step(ctx, tokens); err != nil {
					t.Fatal(err)
				}
			}
			before := compute.CountsOf(m.backend)
			if tc.beams > 1 {
				perm := []int32{1, 0, 2}
				if err := s.Reorder(perm); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.Step(ctx, tokens); err != nil {
				t.Fatal(err)
			}
			got := compute.CountsOf(m.backend).Sub(before)
			t.Logf("%s, %d live: %+v", tc.backend, tc.beams, got)
			checkCounts(t, got, tc.max)
		})
	}
}

// checkCounts fails t for every count above its bound.
func checkCounts(t *testing.T, got, max compute.Counts) {
	t.Helper()
	pairs := []struct {
		name     string
		got, max int64
	}{
		{"dispatches", got.Dispatches, max.Dispatches},
		{"barriers", got.Barriers, max.Barriers},
		{"uploads", got.Uploads, max.Uploads},
		{"upload bytes", got.UploadBytes, max.UploadBytes},
		{"copies", got.Copies, max.Copies},
		{"clears", got.Clears, max.Clears},
		{"readbacks", got.Readbacks, max.Readbacks},
		{"readback bytes", got.ReadbackBytes, max.ReadbackBytes},
	}
	for _, p := range pairs {
		if p.got > p.max {
			t.Errorf("%s: %d per step, above the bound of %d", p.name, p.got, p.max)
		}
	}
}

// TestSelectStepCounts holds a decoding step with token selection on the
// device (select.go) to its bounds: a greedy step reads back exactly once,
// at most 64 bytes (the ids), and a beam step at most 2×beams (score, id)
// pairs per prompt; neither uploads more than the same step without
// selection (the token ids: the processors' state stays on the device),
// nor adds more than two dispatches (and their barriers) to it. Before, each step read back the
// logits: 4008 bytes greedy and 12024 for three beams on this fixture.
func TestSelectStepCounts(t *testing.T) {
	f := loadFixtures(t)[0]
	for _, backend := range []string{"cpu", "gl"} {
		for _, beams := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/beams=%d", backend, beams), func(t *testing.T) {
				m := sharedModel(t, backend, f, compute.F32)
				ctx := context.Background()
				// step runs a warm-up and a measured step, selecting on the
				// device or not, and returns the measured step's counts.
				step := func(device bool) compute.Counts {
					s, err := m.NewSession(f.inputs(t, 0))
					if err != nil {
						t.Fatal(err)
					}
					defer s.Close()
					if _, err := s.Prefill(ctx); err != nil {
						t.Fatal(err)
					}
					tokens := make([]int32, beams)
					for i := range tokens {
						tokens[i] = int32(5 + i)
					}
					if beams > 1 {
						if err := s.Reorder(make([]int32, beams)); err != nil {
							t.Fatal(err)
						}
					}
					seqs := make([][]int32, beams)
					for i := range seqs {
						seqs[i] = append(slices.Clone(f.golden.Cases[0].InputIDs), tokens[i])
					}
					var scores []float32
					k := 0
					if beams > 1 {
						scores, k = make([]float32, beams), 2*beams
					}
					if device && !s.SelectStart(seqs, scores, 1.5, []int32{2}, []int32{4}, k) {
						t.Fatal("SelectStart refused the request")
					}
					run := func() {
						var err error
						switch {
						case !device:
							_, err = s.Step(ctx, tokens)
						case beams == 1:
							_, err = s.StepArgmax(ctx, tokens, true, nil)
						default:
							_, _, err = s.StepBeams(ctx, tokens, true, nil)
						}
						if err != nil {
							t.Fatal(err)
						}
					}
					run()
					before := compute.CountsOf(m.backend)
					if beams > 1 {
						if err := s.Reorder([]int32{1, 0, 2}); err != nil {
							t.Fatal(err)
						}
					}
					run()
					return compute.CountsOf(m.backend).Sub(before)
				}
				plain, got := step(false), step(true)
				t.Logf("%s, %d live: without selection %+v; with %+v", backend, beams, plain, got)
				max := plain
				max.Dispatches += 2
				max.Barriers += 2 // one before each (GL)
				max.Readbacks, max.ReadbackBytes = 1, 64
				if beams > 1 {
					max.ReadbackBytes = 2 * int64(beams) * 8
				}
				if got.Readbacks != 1 {
					t.Errorf("readbacks: %d per step, want exactly 1", got.Readbacks)
				}
				checkCounts(t, got, max)
				// And issue #14's bounds for the whole step, selection
				// included: at most 8 dispatches per layer, no upload but
				// the token ids, no KV copies.
				checkCounts(t, got, compute.Counts{Dispatches: 8 * 3, Barriers: 8 * 3, Uploads: plain.Uploads,
					UploadBytes: plain.UploadBytes, Copies: 0, Readbacks: 1, ReadbackBytes: max.ReadbackBytes})
				if beams == 1 && got.UploadBytes > 4 {
					t.Errorf("a greedy step uploads %d bytes, want at most the token id's 4", got.UploadBytes)
				}
			})
		}
	}
}
