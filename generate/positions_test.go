package generate

import (
	"errors"
	"math"
	"testing"
)

// TestMaxPositions resolves the length of a request the way transformers'
// _prepare_generated_length does, and refuses, before any arithmetic can
// overflow, lengths past the model's positions.
func TestMaxPositions(t *testing.T) {
	tests := []struct {
		name                          string
		maxLength, maxNew, limit, pre int
		want                          int // 0: an ErrConfig error
	}{
		{"max_new_tokens counts after the prompt", 0, 5, 512, 10, 15},
		{"max_new_tokens wins over max_length", 12, 5, 512, 10, 15},
		{"max_length counts the prompt", 30, 0, 512, 10, 30},
		{"neither: 20 new tokens", 0, 0, 512, 10, 30},
		{"neither, capped by the context", 0, 0, 25, 10, 25},
		{"no position limit", 0, 1000, 0, 10, 1010},
		{"max_new_tokens fills the context exactly", 0, 502, 512, 10, 512},
		{"max_new_tokens one past the context", 0, 503, 512, 10, 0},
		{"max_new_tokens of the largest int", 0, math.MaxInt, 512, 10, 0},
		{"max_length past the context", 1_000_000_000, 0, 512, 10, 0},
		{"max_length not above the prompt", 10, 0, 512, 10, 0},
		{"prompt fills the context", 0, 1, 512, 512, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.MaxLength, c.MaxNewTokens, c.PositionLimit = tc.maxLength, tc.maxNew, tc.limit
			got, err := c.MaxPositions(tc.pre)
			if tc.want == 0 {
				if !errors.Is(err, ErrConfig) {
					t.Errorf("MaxPositions(%d) = %d, %v; want an ErrConfig error", tc.pre, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("MaxPositions(%d) = %d, %v; want %d", tc.pre, got, err, tc.want)
			}
		})
	}
}
