package model

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"

	"glimpse/compute"
	"glimpse/generate"
)

// hostOnly hides Session's DeviceSelector methods, so that generate takes
// the host path (logits read back every step).
type hostOnly struct{ generate.Session }

// deviceCalls counts the device selection steps a Session serves.
type deviceCalls struct {
	*Session
	steps int
}

func (d *deviceCalls) StepArgmax(ctx context.Context, tokens []int32, maskEOS bool, bans [][]int32) ([]int32, error) {
	d.steps++
	return d.Session.StepArgmax(ctx, tokens, maskEOS, bans)
}

func (d *deviceCalls) StepBeams(ctx context.Context, tokens []int32, maskEOS bool, bans [][]int32) ([]float32, []int32, error) {
	d.steps++
	return d.Session.StepBeams(ctx, tokens, maskEOS, bans)
}

// TestDeviceSelection generates with every processor the device runs, on
// both backends and both fixtures, through the device path and the host
// path, and requires the same sequences and (beam search) scores within
// float32 log-softmax rounding: the CPU kernels repeat the host's
// arithmetic, the GPU sums in another order.
func TestDeviceSelection(t *testing.T) {
	fs := loadFixtures(t)
	base := generate.DefaultConfig()
	base.MaxNewTokens, base.PadID = 12, 0
	configs := []struct {
		name string
		edit func(c *generate.Config)
	}{
		{"greedy", func(c *generate.Config) { c.EOS = []int32{2} }},
		{"greedy penalty min_new_tokens suppress ngram", func(c *generate.Config) {
			c.EOS, c.RepetitionPenalty, c.MinNewTokens, c.Suppress, c.NoRepeatNgramSize = []int32{2, 1}, 1.5, 6, []int32{3, 5, 8}, 2
		}},
		{"beam3 penalty ngram min_length", func(c *generate.Config) {
			c.NumBeams, c.NumReturnSequences, c.EOS, c.RepetitionPenalty, c.NoRepeatNgramSize, c.MinLength, c.LengthPenalty = 3, 3, []int32{2}, 1.3, 2, 4, 2
		}},
		{"beam4 two eos suppress", func(c *generate.Config) {
			c.NumBeams, c.EOS, c.Suppress, c.MinNewTokens, c.EarlyStopping = 4, []int32{2, 1}, []int32{4}, 3, generate.EarlyStopNever
		}},
	}
	withBackends(t, func(t *testing.T, backend string) {
		for _, f := range fs {
			t.Run(f.name, func(t *testing.T) {
				m := sharedModel(t, backend, f, compute.F32)
				for _, c := range configs {
					cfg := base
					c.edit(&cfg)
					for i := range f.golden.Cases {
						what := fmt.Sprintf("case%d %s", i, c.name)
						prefix := [][]int32{f.golden.Cases[i].Generate["greedy"].Sequence[:f.promptLen(i)]}
						run := func(dev bool) ([]generate.Result, int) {
							s, err := m.NewSession(f.inputs(t, i))
							if err != nil {
								t.Fatal(err)
							}
							d := &deviceCalls{Session: s}
							var gs generate.Session = d
							if !dev {
								gs = hostOnly{s}
							}
							res, err := generate.Generate(context.Background(), gs, prefix, cfg, nil)
							if err != nil {
								t.Fatalf("%s: %v", what, err)
							}
							return res, d.steps
						}
						want, _ := run(false)
						got, steps := run(true)
						if steps == 0 && want[0].NewTokens > 1 {
							t.Fatalf("%s: the device path was not taken", what)
						}
						for j := range want {
							if !slices.Equal(got[j].Sequence, want[j].Sequence) {
								t.Errorf("%s result %d:\n device %v\n   host %v", what, j, got[j].Sequence, want[j].Sequence)
							}
							if d := math.Abs(float64(got[j].Score - want[j].Score)); d > 1e-5*math.Abs(float64(want[j].Score))+1e-6 {
								t.Errorf("%s result %d: device score %v, host %v", what, j, got[j].Score, want[j].Score)
							}
						}
					}
				}
			})
		}
	})
}
