package cpu

import (
	"math"

	"glimpse/compute"
	"glimpse/compute/internal/parallel"
)

// Token selection (compute.LogitsKernel): the logits processors, greedy
// argmax and beam search's candidates, over the host's slices. The
// arithmetic is generate's host path's, operation for operation (its
// log-softmax sums the float32 exponentials in float64), so that the CPU
// engine picks the same tokens and scores whichever path runs.

var _ compute.LogitsKernel = device{}

var negInf = float32(math.Inf(-1))

// ProcessLogits applies the processors row by row.
func (device) ProcessLogits(out, x, seen, eos, suppress, bias compute.Operand, bans []int32, p compute.LogitsParams) {
	rows, cols := x.RowsCols()
	o, xd := floats(out), floats(x)
	var sd, ed, pd, bd []float32
	if !seen.None() {
		sd = floats(seen)
	}
	if p.MaskEOS && !eos.None() {
		ed = floats(eos)
	}
	if !suppress.None() {
		pd = floats(suppress)
	}
	if !bias.None() {
		bd = floats(bias)
	}
	parallel.For(rows, rowGrain(cols), func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			row, or := xd[r*cols:(r+1)*cols], o[r*cols:(r+1)*cols]
			if p.LogSoftmax {
				logSoftmaxRow(or, row)
			} else {
				copy(or, row)
			}
			if sd != nil {
				for i, s := range sd[r*cols : (r+1)*cols] {
					if s == 0 {
						continue
					}
					if v := or[i]; v < 0 {
						or[i] = v * p.Penalty
					} else {
						or[i] = v / p.Penalty
					}
				}
			}
			for i := range or {
				if (ed != nil && ed[i] != 0) || (pd != nil && pd[i] != 0) {
					or[i] = negInf
				}
			}
			for i := 0; i < len(bans); i += 2 {
				if int(bans[i]) == r {
					or[bans[i+1]] = negInf
				}
			}
			if bd != nil {
				b := bd[r]
				for i := range or {
					or[i] += b
				}
			}
		}
	})
}

// logSoftmaxRow writes (x − max) − log Σ exp(x − max), each exponential
// rounded to float32 and summed in float64, as generate's host path does;
// a row that is all −Inf stays so.
func logSoftmaxRow(out, x []float32) {
	m := negInf
	for _, v := range x {
		m = max(m, v)
	}
	if math.IsInf(float64(m), -1) {
		copy(out, x)
		return
	}
	var sum float64
	for _, v := range x {
		sum += float64(float32(math.Exp(float64(v - m))))
	}
	lse := float32(math.Log(sum))
	for i, v := range x {
		out[i] = (v - m) - lse
	}
}

// better reports whether (v1, i1) ranks above (v0, i0): a larger value, or
// the same value at a lower index; NaN ranks below every number.
func better(v1 float32, i1 int32, v0 float32, i0 int32) bool {
	n1, n0 := v1 != v1, v0 != v0
	switch {
	case n1 != n0:
		return n0
	case n1 || v1 == v0:
		return i1 < i0
	}
	return v1 > v0
}

// ArgmaxMark scans each row and marks the winner in seen.
func (device) ArgmaxMark(x, seen compute.Operand) []int32 {
	rows, cols := x.RowsCols()
	xd := floats(x)
	res := make([]int32, rows)
	for r := range res {
		row := xd[r*cols : (r+1)*cols]
		best := int32(0)
		for i := 1; i < cols; i++ {
			if better(row[i], int32(i), row[best], best) {
				best = int32(i)
			}
		}
		res[r] = best
	}
	if !seen.None() {
		sd := floats(seen)
		for r, id := range res {
			sd[r*cols+int(id)] = 1
		}
	}
	return res
}

// topList keeps the k best (value, index) pairs seen so far, best first.
type topList struct {
	v []float32
	i []int32
	k int
}

// offer inserts (v, i) where it ranks, dropping the worst beyond k.
func (t *topList) offer(v float32, i int32) {
	n := len(t.v)
	if n == t.k && !better(v, i, t.v[n-1], t.i[n-1]) {
		return
	}
	if n < t.k {
		t.v, t.i = append(t.v, v), append(t.i, i)
	} else {
		n--
	}
	for n > 0 && better(v, i, t.v[n-1], t.i[n-1]) {
		t.v[n], t.i[n] = t.v[n-1], t.i[n-1]
		n--
	}
	t.v[n], t.i[n] = v, i
}

// BeamSelect keeps each entry's k best candidates, then advances the
// running beams' scores and marks.
func (device) BeamSelect(x, scores, eos, seen, seenNext compute.Operand, p compute.BeamParams) ([]float32, []int32) {
	xd, sc, ed := floats(x), floats(scores), floats(eos)
	w := p.Beams * p.Vocab
	vals := make([]float32, p.Batch*p.K)
	idx := make([]int32, p.Batch*p.K)
	for b := range p.Batch {
		t := topList{v: vals[b*p.K : b*p.K : (b+1)*p.K], i: idx[b*p.K : b*p.K : (b+1)*p.K], k: p.K}
		for i, v := range xd[b*w : (b+1)*w] {
			t.offer(v, int32(i))
		}
		// The running beams: the best Beams of the candidates, those ending
		// on EOS pushed down by BeamNeg.
		run := topList{k: p.Beams}
		for k := range p.K {
			v := t.v[k]
			if ed[t.i[k]%int32(p.Vocab)] != 0 {
				v += compute.BeamNeg
			}
			run.offer(v, int32(k))
		}
		for j := range p.Beams {
			c := run.i[j]
			sc[b*p.Beams+j] = run.v[j]
			if !seen.None() {
				src := b*p.Beams + int(t.i[c])/p.Vocab
				dst := floats(seenNext)[(b*p.Beams+j)*p.Vocab : (b*p.Beams+j+1)*p.Vocab]
				copy(dst, floats(seen)[src*p.Vocab:(src+1)*p.Vocab])
				dst[int(t.i[c])%p.Vocab] = 1
			}
		}
	}
	return vals, idx
}
