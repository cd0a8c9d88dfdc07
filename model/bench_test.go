package model

import (
	"context"
	"testing"

	"glimpse/compute/cpu"
)

// BenchmarkSession measures a prefill and a decoding step of the tiny
// fixture models on the CPU backend (run with -bench Session).
func BenchmarkSession(b *testing.B) {
	for _, f := range loadFixtures(b) {
		be := cpu.New()
		m, err := Load(context.Background(), be, f.dir, LoadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		in := f.inputs(b, 0)
		b.Run(f.name+"/prefill", func(b *testing.B) {
			for b.Loop() {
				s, err := m.NewSession(in)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.Prefill(context.Background()); err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
		})
		b.Run(f.name+"/step", func(b *testing.B) {
			s, err := m.NewSession(in)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Prefill(context.Background()); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := s.Step(context.Background(), []int32{5}); err != nil {
					b.Fatal(err)
				}
			}
		})
		m.Close()
		be.Close()
	}
}
