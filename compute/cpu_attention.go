package compute

import "fmt"

// attnLayout holds the checked dimensions of one Attention call.
type attnLayout struct {
	b, tq, tk, h, kvh, d int
	keys                 int // keys used per batch entry: KeyLen or Tk
	offset               int // causal offset keys - Tq
	mask                 []float32
	maskStride           int
	bias                 []float32
	biasBatched          bool
	biasStride           int // length of one bias row
}

// attentionLayout checks Attention's operands against each other and o.
func attentionLayout(qt, kt, vt *cpuTensor, o AttentionOptions) attnLayout {
	bad := func(why string) {
		panic(fmt.Sprintf("compute: Attention of q %v, k %v, v %v with %d heads, %d kv heads, key length %d: %s",
			qt, kt, vt, o.Heads, o.KVHeads, o.KeyLen, why))
	}
	if len(qt.shape) != 3 || len(kt.shape) != 3 || !equalInts(kt.shape, vt.shape) {
		bad("want q [B, Tq, H*D] and k, v [B, Tk, KVH*D]")
	}
	l := attnLayout{b: qt.shape[0], tq: qt.shape[1], tk: kt.shape[1], h: o.Heads, kvh: o.KVHeads}
	if l.kvh == 0 {
		l.kvh = l.h
	}
	if l.h <= 0 || l.kvh <= 0 || l.h%l.kvh != 0 || qt.shape[2]%l.h != 0 {
		bad("heads must be positive, a multiple of the kv heads, and divide q's rows")
	}
	l.d = qt.shape[2] / l.h
	if kt.shape[0] != l.b || kt.shape[2] != l.kvh*l.d {
		bad("k and v must be [B, Tk, KVH*D] with q's B and D")
	}
	l.keys = l.tk
	if o.KeyLen > 0 {
		if o.KeyLen > l.tk {
			bad("KeyLen exceeds the keys")
		}
		l.keys = o.KeyLen
	}
	l.offset = l.keys - l.tq
	// The last dimension of Mask and Bias may be Tk or, with KeyLen, KeyLen.
	okLast := func(n int) bool { return n == l.tk || n == l.keys }
	if o.Mask != nil {
		mt, md := f32("Attention mask", o.Mask)
		if len(mt.shape) < 2 || mt.shape[0] != l.b || !okLast(mt.shape[len(mt.shape)-1]) || NumElements(mt.shape) != l.b*mt.shape[len(mt.shape)-1] {
			bad(fmt.Sprintf("mask %v must be [B, Tk]", mt))
		}
		l.mask, l.maskStride = md, mt.shape[len(mt.shape)-1]
	}
	if o.Bias != nil {
		bt, bd := f32("Attention bias", o.Bias)
		s := bt.shape
		switch {
		case len(s) == 3 && s[0] == l.h && s[1] == l.tq && okLast(s[2]):
		case len(s) == 4 && s[0] == l.b && s[1] == l.h && s[2] == l.tq && okLast(s[3]):
			l.biasBatched = true
		default:
			bad(fmt.Sprintf("bias %v must be [H, Tq, Tk] or [B, H, Tq, Tk]", bt))
		}
		l.bias, l.biasStride = bd, s[len(s)-1]
	}
	return l
}

// Attention computes softmax(Scale·q·kᵀ + mask + bias)·v per batch entry,
// head and query, with query head h reading kv head h/(H/KVH) (GQA). Keys a
// query may not see (causal, beyond KeyLen) are left out; a query that sees
// no key at all, or whose scores are all -Inf, gets zeros.
func (c *cpuContext) Attention(q, k, v Tensor, o AttentionOptions) Tensor {
	qt, qd := f32("Attention", q)
	kt, kd := f32("Attention", k)
	vt, vd := f32("Attention", v)
	l := attentionLayout(qt, kt, vt, o)
	out := make([]float32, len(qd))
	qRow, kvRow := l.h*l.d, l.kvh*l.d
	group := l.h / l.kvh
	total := l.b * l.h * l.tq
	grain := max(1, total/(8*maxProcs()))
	parallelFor(total, grain, func(lo, hi int) {
		scores := make([]float32, l.keys)
		for u := lo; u < hi; u++ {
			i := u % l.tq
			h := (u / l.tq) % l.h
			b := u / (l.tq * l.h)
			kh := h / group
			n := l.keys
			if o.Causal {
				n = min(n, max(0, i+l.offset+1))
			}
			qv := qd[(b*l.tq+i)*qRow+h*l.d : (b*l.tq+i)*qRow+(h+1)*l.d]
			s := scores[:n]
			for j := range s {
				kv := kd[(b*l.tk+j)*kvRow+kh*l.d : (b*l.tk+j)*kvRow+(kh+1)*l.d]
				s[j] = o.Scale * dotF32(qv, kv)
			}
			if l.mask != nil {
				m := l.mask[b*l.maskStride:]
				for j := range s {
					s[j] += m[j]
				}
			}
			if l.bias != nil {
				row := h*l.tq + i
				if l.biasBatched {
					row += b * l.h * l.tq
				}
				bias := l.bias[row*l.biasStride:]
				for j := range s {
					s[j] += bias[j]
				}
			}
			softmaxRow(s)
			dst := out[(b*l.tq+i)*qRow+h*l.d : (b*l.tq+i)*qRow+(h+1)*l.d]
			for j, p := range s {
				vv := vd[(b*l.tk+j)*kvRow+kh*l.d : (b*l.tk+j)*kvRow+(kh+1)*l.d]
				vv = vv[:len(dst)]
				for e := range dst {
					dst[e] += p * vv[e]
				}
			}
		}
	})
	return c.newF32(cloneShape(qt.shape), out)
}
