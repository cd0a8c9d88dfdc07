package model

import "testing"

// TestRelativeBucket pins T5's relative position buckets (32 buckets,
// max distance 128) at the edges of each logarithmic bucket, including the
// distances whose ratio is an exact power of two (16, 32, 64), where a
// double-precision computation could land one bucket lower than PyTorch's
// float32 one. The golden activations only reach distance 23.
func TestRelativeBucket(t *testing.T) {
	tests := []struct {
		rel           int // key position - query position
		bidirectional bool
		want          int
	}{
		// Encoder: 16 buckets per direction, 8 exact.
		{0, true, 0}, {-7, true, 7}, {7, true, 16 + 7},
		{-8, true, 8}, {-11, true, 8}, {-12, true, 9}, {-15, true, 9},
		{-16, true, 10}, {-22, true, 10}, {-23, true, 11}, {-31, true, 11},
		{-32, true, 12}, {-45, true, 12}, {-46, true, 13}, {-63, true, 13},
		{-64, true, 14}, {-90, true, 14}, {-91, true, 15}, {-1000, true, 15},
		{16, true, 16 + 10}, {32, true, 16 + 12}, {64, true, 16 + 14}, {1000, true, 31},
		// Decoder: looks back only, 16 exact.
		{3, false, 0}, {0, false, 0}, {-15, false, 15},
		{-16, false, 16}, {-18, false, 16}, {-19, false, 17}, {-20, false, 17}, {-21, false, 18},
		{-32, false, 21}, {-64, false, 26}, {-127, false, 31}, {-128, false, 31}, {-5000, false, 31},
	}
	for _, tc := range tests {
		if got := relativeBucket(tc.rel, tc.bidirectional, 32, 128); got != tc.want {
			t.Errorf("relativeBucket(%d, bidirectional %v) = %d, want %d", tc.rel, tc.bidirectional, got, tc.want)
		}
	}
}
