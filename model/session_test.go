package model

import (
	"context"
	"errors"
	"testing"

	"glimpse/compute"
	"glimpse/generate"
)

// TestInputErrors checks that inputs that do not fit the model are
// refused with ErrInput instead of reaching the kernels.
func TestInputErrors(t *testing.T) {
	f := loadFixtures(t)[0]
	m := sharedModel(t, "cpu", f, compute.F32)
	tests := []struct {
		name string
		edit func(in *Inputs)
	}{
		{"empty batch", func(in *Inputs) { in.InputIDs = nil }},
		{"pixels of another size", func(in *Inputs) { in.PixelValues = in.PixelValues[:100] }},
		{"id outside the vocabulary", func(in *Inputs) { in.InputIDs[0][10] = 5000 }},
		{"negative id", func(in *Inputs) { in.QFormerInputIDs[0][1] = -1 }},
		{"missing image tokens", func(in *Inputs) { in.InputIDs[0][0] = 5 }},
		{"ragged rows", func(in *Inputs) {
			in.InputIDs = append(in.InputIDs, in.InputIDs[0][:5])
			in.QFormerInputIDs = append(in.QFormerInputIDs, in.QFormerInputIDs[0])
		}},
		{"mask of another length", func(in *Inputs) { in.AttentionMask[0] = in.AttentionMask[0][1:] }},
		{"mask not 0/1", func(in *Inputs) { in.QFormerAttentionMask[0][0] = 2 }},
		{"Q-Former rows missing", func(in *Inputs) { in.QFormerInputIDs = nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := f.inputs(t, 0)
			// Own copies: the edits must not reach the shared golden data.
			in.InputIDs = [][]int32{append([]int32(nil), in.InputIDs[0]...)}
			in.AttentionMask = [][]int32{append([]int32(nil), in.AttentionMask[0]...)}
			in.QFormerInputIDs = [][]int32{append([]int32(nil), in.QFormerInputIDs[0]...)}
			in.QFormerAttentionMask = [][]int32{append([]int32(nil), in.QFormerAttentionMask[0]...)}
			tc.edit(in)
			if _, err := m.NewSession(in); !errors.Is(err, ErrInput) {
				t.Errorf("NewSession: %v, want ErrInput", err)
			}
			if _, _, err := m.Forward(context.Background(), in, nil); !errors.Is(err, ErrInput) {
				t.Errorf("Forward: %v, want ErrInput", err)
			}
		})
	}
}

// TestSessionMisuse checks that a session used out of order, or given
// tokens or indices it cannot use, returns ErrSession.
func TestSessionMisuse(t *testing.T) {
	for _, f := range loadFixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			m := sharedModel(t, "cpu", f, compute.F32)
			ctx := context.Background()
			s, err := m.NewSession(f.inputs(t, 0))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Step(ctx, []int32{5}); !errors.Is(err, ErrSession) {
				t.Errorf("Step before Prefill: %v", err)
			}
			if err := s.Reorder([]int32{0}); !errors.Is(err, ErrSession) {
				t.Errorf("Reorder before Prefill: %v", err)
			}
			if _, err := s.Prefill(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Prefill(ctx); !errors.Is(err, ErrSession) {
				t.Errorf("second Prefill: %v", err)
			}
			for _, bad := range [][]int32{{}, {1, 2}, {int32(m.VocabSize())}, {-1}} {
				if _, err := s.Step(ctx, bad); !errors.Is(err, ErrSession) {
					t.Errorf("Step(%v): %v", bad, err)
				}
			}
			for _, bad := range [][]int32{{}, {1}, {-1}} {
				if err := s.Reorder(bad); !errors.Is(err, ErrSession) {
					t.Errorf("Reorder(%v): %v", bad, err)
				}
			}
			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			if _, err := s.Step(cancelled, []int32{5}); !errors.Is(err, context.Canceled) {
				t.Errorf("Step with a cancelled context: %v", err)
			}
			if _, err := s.Step(ctx, []int32{5}); err != nil {
				t.Errorf("Step after misuse: %v", err)
			}
			s.Close()
			s.Close()
			if _, err := s.Step(ctx, []int32{5}); !errors.Is(err, ErrSession) {
				t.Errorf("Step after Close: %v", err)
			}
		})
	}
}

// Session is what the generation loop drives.
var _ generate.Session = (*Session)(nil)
