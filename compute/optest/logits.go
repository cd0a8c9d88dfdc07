package optest

import (
	"fmt"
	"math"
	"slices"

	"glimpse/compute"
)

// --- token selection (compute/logits.go) ---

// refProcess is ProcessLogits in float64 for one row: log-softmax (when
// asked), the penalty on seen tokens, −Inf for banned ones, plus bias.
func refProcess(row []float32, logSoftmax bool, penalty float64, seen, banned []bool, bias float64) []float64 {
	out := widen(row)
	if logSoftmax {
		m := math.Inf(-1)
		for _, v := range out {
			m = math.Max(m, v)
		}
		var s float64
		for _, v := range out {
			s += math.Exp(v - m)
		}
		for i, v := range out {
			out[i] = v - m - math.Log(s)
		}
	}
	for i, v := range out {
		switch {
		case banned[i]:
			out[i] = math.Inf(-1)
			continue
		case seen != nil && seen[i] && v < 0:
			v *= penalty
		case seen != nil && seen[i]:
			v /= penalty
		}
		out[i] = v + bias
	}
	return out
}

// mask returns an F32 [n] tensor of 1 at ids and its host form.
func (e *env) mask(n int, ids ...int) (compute.Tensor, []bool) {
	m := make([]float32, n)
	b := make([]bool, n)
	for _, i := range ids {
		m[i], b[i] = 1, true
	}
	return e.floats([]int{n}, m), b
}

func logitsCases() []Case {
	var cs []Case
	type pcase struct {
		rows, cols int
		logSoftmax bool
		penalty    float32
		maskEOS    bool
		suppress   bool
		bans       bool
		bias       bool
	}
	for _, c := range []pcase{
		{1, 7, false, 1, false, false, false, false},
		{3, 33, false, 1.5, true, true, false, false},      // greedy: penalty, min length, suppression
		{2, 257, false, 0.7, false, false, true, false},    // a penalty below 1, n-gram bans
		{3, 300, true, 1, false, false, false, true},       // beam search: log-softmax plus running scores
		{5, 32000, true, 1.5, true, true, true, true},      // everything at a LLaMA vocabulary
		{2, 1000, true, 2, false, true, true, false},       // beams without running scores
		{4, 32128, false, 1.3, false, false, false, false}, // T5's vocabulary, penalty alone
	} {
		name := fmt.Sprintf("[%d %d] logsoftmax=%v penalty=%g eos=%v suppress=%v bans=%v bias=%v",
			c.rows, c.cols, c.logSoftmax, c.penalty, c.maskEOS, c.suppress, c.bans, c.bias)
		cs = append(cs, Case{"ProcessLogits", name, func(e *env) {
			n, v := c.rows, c.cols
			x := e.rand(n*v, 3)
			x[0] = float32(math.Inf(-1)) // a masked score stays masked
			o := compute.LogitsOptions{LogSoftmax: c.logSoftmax, Penalty: c.penalty, MaskEOS: c.maskEOS}
			banned := make([][]bool, n)
			for r := range banned {
				banned[r] = make([]bool, v)
			}
			var seen [][]bool
			if c.penalty != 1 {
				s := make([]float32, n*v)
				seen = make([][]bool, n)
				for r := range n {
					seen[r] = make([]bool, v)
					for range 1 + v/10 {
						i := e.rng.IntN(v)
						s[r*v+i], seen[r][i] = 1, true
					}
				}
				o.Seen = e.floats([]int{n, v}, s)
			}
			if c.maskEOS {
				var eos []bool
				o.EOS, eos = e.mask(v, 2, v-1)
				for r := range n {
					banned[r][2], banned[r][v-1] = eos[2], eos[v-1]
				}
			} else {
				// EOS given but not masked: no effect.
				o.EOS, _ = e.mask(v, 2)
			}
			if c.suppress {
				var sup []bool
				o.Suppress, sup = e.mask(v, 0, 5, v/2)
				for r := range n {
					for i, s := range sup {
						banned[r][i] = banned[r][i] || s
					}
				}
			}
			if c.bans {
				for r := range n {
					for range 3 {
						id := e.rng.IntN(v)
						o.Bans = append(o.Bans, int32(r), int32(id))
						banned[r][id] = true
					}
				}
			}
			bias := make([]float64, n)
			if c.bias {
				b := make([]float32, n)
				for r := range b {
					b[r] = float32(-3 * r)
					if r == 1 {
						b[r] = compute.BeamNeg // a beam that has not started
					}
					bias[r] = float64(b[r])
				}
				o.RowBias = e.floats([]int{n}, b)
			}
			var want []float64
			for r := range n {
				var sr []bool
				if seen != nil {
					sr = seen[r]
				}
				want = append(want, refProcess(x[r*v:(r+1)*v], c.logSoftmax, float64(c.penalty), sr, banned[r], bias[r])...)
			}
			got := e.read(compute.ProcessLogits(e.ctx, e.floats([]int{n, v}, x), o), []int{n, v})
			// Without log-softmax each value is one or two IEEE operations
			// (a GPU's division may be off by an ulp or two); with it, the
			// log-softmax bound times the penalty, and the bias's rounding.
			abs, rel := 0.0, 4e-7
			if c.logSoftmax {
				abs, rel = float64(v+4)*1.2e-7*float64(max(c.penalty, 1)), 6e-7
			}
			CheckClose(e.t, "ProcessLogits", got, want, abs, rel)
		}})
	}
	cs = append(cs, Case{"ProcessLogits", "a row of -Inf stays -Inf", func(e *env) {
		inf := float32(math.Inf(-1))
		x := e.floats([]int{1, 4}, []float32{inf, inf, inf, inf})
		got := e.read(compute.ProcessLogits(e.ctx, x, compute.LogitsOptions{LogSoftmax: true}), []int{1, 4})
		Exact(e.t, "ProcessLogits of -Inf", got, []float32{inf, inf, inf, inf})
	}})

	nan := float32(math.NaN())
	for _, c := range []struct {
		name       string
		rows, cols int
		data       []float32
		mark       bool
	}{
		{"ties, NaN, only NaN", 4, 5, []float32{1, 7, 7, 2, 0, nan, -1, -5, nan, -1, nan, nan, nan, nan, nan, 3, 3, 3, 3, 3}, true},
		{"[3 32000] logits", 3, 32000, nil, true},
		{"[2 1000] without seen", 2, 1000, nil, false},
	} {
		cs = append(cs, Case{"ArgmaxMark", c.name, func(e *env) {
			data := c.data
			if data == nil {
				data = e.rand(c.rows*c.cols, 1)
				data[c.cols+c.cols/2] = 100 // a tie at the end of row 1
				data[2*c.cols-1] = 100
			}
			var seen compute.Tensor
			marks := make([]float32, c.rows*c.cols)
			marks[3] = 1 // an earlier mark stays
			if c.mark {
				seen = e.floats([]int{c.rows, c.cols}, marks)
			}
			got := compute.ArgmaxMark(e.ctx, e.floats([]int{c.rows, c.cols}, data), seen)
			want := make([]int32, c.rows)
			for r := range want {
				want[r] = refOrder(data[r*c.cols : (r+1)*c.cols])[0]
				marks[r*c.cols+int(want[r])] = 1
			}
			if !slices.Equal(got, want) {
				e.t.Fatalf("ArgmaxMark = %v, want %v", got, want)
			}
			if c.mark {
				Exact(e.t, "ArgmaxMark seen", e.read(seen, []int{c.rows, c.cols}), marks)
			}
		}})
	}

	for _, c := range []struct {
		batch, beams, vocab, k int
		seen, ties             bool
	}{
		{1, 1, 9, 2, false, false},
		{2, 3, 50, 6, true, true},      // ties across beams: the lower beam first
		{2, 5, 32000, 10, true, false}, // beam-5 over a LLaMA vocabulary
		{1, 4, 1000, 12, false, false}, // two EOS ids: K = 3·beams
		{3, 2, 300, 64, true, true},    // the most candidates
	} {
		name := fmt.Sprintf("[%d %d %d] k=%d seen=%v ties=%v", c.batch, c.beams, c.vocab, c.k, c.seen, c.ties)
		cs = append(cs, Case{"BeamSelect", name, func(e *env) {
			B, nb, V, K := c.batch, c.beams, c.vocab, c.k
			x := e.rand(B*nb*V, 2)
			if c.ties {
				for i := range x {
					x[i] = float32(e.rng.IntN(8))
				}
			}
			eosIDs := []int{3}
			if K > 2*nb {
				eosIDs = append(eosIDs, V-1)
			}
			// Make EOS among the best of beam 0 of every entry.
			for b := range B {
				x[b*nb*V+3] = 50
			}
			eos, isEOS := e.mask(V, eosIDs...)
			scores := e.floats([]int{B * nb}, make([]float32, B*nb))
			st := compute.BeamState{Scores: scores, EOS: eos}
			var marks []float32
			if c.seen {
				marks = make([]float32, B*nb*V)
				for i := range marks {
					if e.rng.IntN(7) == 0 {
						marks[i] = 1
					}
				}
				st.Seen = e.floats([]int{B * nb, V}, marks)
				st.SeenNext = e.ctx.Zeros(B*nb, V)
			}
			vals, idx := compute.BeamSelect(e.ctx, e.floats([]int{B, nb, V}, x), K, st)
			wantScores := make([]float32, B*nb)
			wantNext := make([]float32, B*nb*V)
			for b := range B {
				entry := x[b*nb*V : (b+1)*nb*V]
				order := refOrder(entry)[:K]
				if !slices.Equal(idx[b*K:(b+1)*K], order) {
					e.t.Fatalf("BeamSelect entry %d: indices %v, want %v", b, idx[b*K:(b+1)*K], order)
				}
				wv := make([]float32, K)
				run := make([]float32, K)
				for k, i := range order {
					wv[k] = entry[i]
					run[k] = entry[i]
					if isEOS[int(i)%V] {
						run[k] += compute.BeamNeg
					}
				}
				Exact(e.t, fmt.Sprintf("BeamSelect entry %d values", b), vals[b*K:(b+1)*K], wv)
				for j, k := range refOrder(run)[:nb] {
					wantScores[b*nb+j] = run[k]
					if c.seen {
						src := b*nb + int(order[k])/V
						dst := wantNext[(b*nb+j)*V : (b*nb+j+1)*V]
						copy(dst, marks[src*V:(src+1)*V])
						dst[int(order[k])%V] = 1
					}
				}
			}
			Exact(e.t, "BeamSelect scores", e.read(scores, []int{B * nb}), wantScores)
			if c.seen {
				Exact(e.t, "BeamSelect seenNext", e.read(st.SeenNext, []int{B * nb, V}), wantNext)
			}
		}})
	}
	return cs
}
