package jpeg

import (
	"math"
	"math/rand/v2"
	"testing"
)

// floatIDCT is the 2-D IDCT by its definition, level-shifted and clamped.
func floatIDCT(b *block) [64]float64 {
	var out [64]float64
	for y := 0; y < 8; y++ {
		for x := 0; x < 8; x++ {
			s := 0.0
			for v := 0; v < 8; v++ {
				for u := 0; u < 8; u++ {
					cu, cv := 1.0, 1.0
					if u == 0 {
						cu = 1 / math.Sqrt2
					}
					if v == 0 {
						cv = 1 / math.Sqrt2
					}
					s += cu * cv * float64(b[v*8+u]) *
						math.Cos(float64(2*x+1)*float64(u)*math.Pi/16) * math.Cos(float64(2*y+1)*float64(v)*math.Pi/16)
				}
			}
			out[y*8+x] = math.Max(0, math.Min(255, s/4+128))
		}
	}
	return out
}

// TestIDCTAgainstDefinition checks libjpeg's fixed-point IDCT against the
// exact transform: flat blocks exactly, random blocks within a level.
func TestIDCTAgainstDefinition(t *testing.T) {
	cases := []struct {
		name string
		b    block
		tol  float64
	}{
		{"zero", block{}, 0},
		{"DC only", block{0: 80}, 0},
		{"negative DC clamps", block{0: -2000}, 0},
		{"overshoot clamps", block{0: 1100, 1: 300}, 1},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		var b block
		for k := range b {
			// Coefficients shrink with frequency, as in real images.
			b[k] = int32(rng.IntN(2*(400/(1+k))+1) - 400/(1+k))
		}
		cases = append(cases, struct {
			name string
			b    block
			tol  float64
		}{"random", b, 1})
	}
	for _, c := range cases {
		var got [64]byte
		b := c.b
		idctToBytes(&b, got[:], 8)
		want := floatIDCT(&c.b)
		for i := range got {
			if math.Abs(float64(got[i])-want[i]) > c.tol+0.5 {
				t.Fatalf("%s: sample %d = %d, definition gives %.2f", c.name, i, got[i], want[i])
			}
		}
	}
}

func TestRangeLimitTable(t *testing.T) {
	cases := []struct{ in, want int }{
		{0, 128}, {127, 255}, {-128, 0}, {-1, 127}, {200, 255}, {511, 255}, {-129, 0}, {-512, 0},
	}
	for _, c := range cases {
		if got := rangeLimit[c.in&1023]; int(got) != c.want {
			t.Errorf("rangeLimit[%d] = %d, want %d", c.in, got, c.want)
		}
	}
}
