package model

import (
	"fmt"

	"glimpse/compute"
)

// Linear is a fully connected layer y = x·Wᵀ + b, with W in PyTorch's
// [out, in] layout. The bias is optional.
type Linear struct {
	Weight compute.Tensor `st:"weight" kind:"matrix"`
	Bias   compute.Tensor `st:"bias,optional"`
}

// Forward applies the layer to the rows of x.
func (l *Linear) Forward(ctx compute.Context, x compute.Tensor) compute.Tensor {
	return ctx.Linear(x, l.Weight, l.Bias)
}

// LayerNorm is a layer normalisation with a learned scale and shift.
type LayerNorm struct {
	Weight compute.Tensor `st:"weight"`
	Bias   compute.Tensor `st:"bias"`
}

// Forward normalises each row of x.
func (n *LayerNorm) Forward(ctx compute.Context, x compute.Tensor, eps float32) compute.Tensor {
	return ctx.LayerNorm(x, n.Weight, n.Bias, eps)
}

// RMSNorm is the root-mean-square normalisation of LLaMA and T5
// (T5LayerNorm): no mean subtraction, float32 variance, learned scale.
type RMSNorm struct {
	Weight compute.Tensor `st:"weight"`
}

// Forward normalises each row of x.
func (n *RMSNorm) Forward(ctx compute.Context, x compute.Tensor, eps float32) compute.Tensor {
	return ctx.RMSNorm(x, n.Weight, eps)
}

// activation maps a transformers hidden_act / dense_act_fn name to the
// compute engine's name for it. ACT2FN's "gelu" is the exact erf form;
// "gelu_new", "gelu_pytorch_tanh" and "gelu_fast" are the tanh approximation.
func activation(name string) (string, error) {
	switch name {
	case "gelu":
		return "gelu", nil
	case "gelu_new", "gelu_pytorch_tanh", "gelu_fast":
		return "gelu_tanh", nil
	case "silu", "swish":
		return "silu", nil
	case "relu":
		return "relu", nil
	}
	return "", fmt.Errorf("unsupported activation function %q in config.json", name)
}

// ungatedActivation is activation for a plain (not gated) feed-forward,
// which activate must be able to apply on its own.
func ungatedActivation(name string) (string, error) {
	act, err := activation(name)
	if err == nil && act == "relu" {
		err = fmt.Errorf("activation function %q is not supported outside a gated feed-forward", name)
	}
	return act, err
}

// activate applies an activation named as ungatedActivation returns it.
func activate(ctx compute.Context, act string, x compute.Tensor) compute.Tensor {
	switch act {
	case "gelu":
		return ctx.GELU(x)
	case "gelu_tanh":
		return ctx.GELUTanh(x)
	case "silu":
		return ctx.SiLU(x)
	}
	panic(fmt.Sprintf("model: activation %q has no ungated form here", act))
}

// Trace receives intermediate tensors of a forward pass, named as the
// modules of transformers' InstructBlipForConditionalGeneration whose output
// they are ("vision_model.encoder.layers.0", "qformer", "logits", …), so
// tests can compare them with reference activations. ctx is the context
// that owns t, for reading it; t is freed when the forward pass ends.
type Trace func(ctx compute.Context, name string, t compute.Tensor)

// emit calls tr if it is set.
func (tr Trace) emit(ctx compute.Context, name string, t compute.Tensor) {
	if tr != nil {
		tr(ctx, name, t)
	}
}

// emitf is emit with a formatted name, formatted only when tracing.
func (tr Trace) emitf(ctx compute.Context, t compute.Tensor, format string, args ...any) {
	if tr != nil {
		tr(ctx, fmt.Sprintf(format, args...), t)
	}
}

// batchRows picks rows [start, start+n) of dimension 1 of x [B, T, C] for
// every batch entry, returning [B, n, C].
func batchRows(ctx compute.Context, x compute.Tensor, start, n int) compute.Tensor {
	s := x.Shape()
	if len(s) != 3 || start < 0 || n < 0 || start+n > s[1] {
		panic(fmt.Sprintf("model: batchRows [%d,%d) of %v", start, start+n, s))
	}
	b, t, c := s[0], s[1], s[2]
	flat := ctx.Reshape(x, b*t, c)
	if b == 1 {
		return ctx.Reshape(ctx.Rows(flat, start, n), 1, n, c)
	}
	idx := make([]int32, 0, b*n)
	for i := 0; i < b; i++ {
		for j := 0; j < n; j++ {
			idx = append(idx, int32(i*t+start+j))
		}
	}
	return ctx.Reshape(ctx.Gather(flat, idx), b, n, c)
}

// joinRows concatenates x [B, T1, C] and y [B, T2, C] along dimension 1.
func joinRows(ctx compute.Context, x, y compute.Tensor) compute.Tensor {
	xs, ys := x.Shape(), y.Shape()
	if len(xs) != 3 || len(ys) != 3 || xs[0] != ys[0] || xs[2] != ys[2] {
		panic(fmt.Sprintf("model: joinRows %v and %v", xs, ys))
	}
	b, t1, t2, c := xs[0], xs[1], ys[1], xs[2]
	both := ctx.Concat(ctx.Reshape(x, b*t1, c), ctx.Reshape(y, b*t2, c))
	if b == 1 {
		return ctx.Reshape(both, 1, t1+t2, c)
	}
	idx := make([]int32, 0, b*(t1+t2))
	for i := 0; i < b; i++ {
		for j := 0; j < t1; j++ {
			idx = append(idx, int32(i*t1+j))
		}
		for j := 0; j < t2; j++ {
			idx = append(idx, int32(b*t1+i*t2+j))
		}
	}
	return ctx.Reshape(ctx.Gather(both, idx), b, t1+t2, c)
}

// maskNeg is the additive mask value for a dropped key. transformers uses
// float32's lowest value; any number this negative gives exp() = 0 after the
// softmax's max subtraction, and a finite one keeps a fully masked row finite.
const maskNeg = -1e30

// additiveMask turns 0/1 attention masks (one row per batch entry) into
// transformers' additive form: 0 where attended, maskNeg where masked.
// It returns nil when nothing is masked, so attention can skip the mask.
func additiveMask(mask [][]int32) []float32 {
	masked := false
	var out []float32
	for _, row := range mask {
		for _, m := range row {
			v := float32(0)
			if m == 0 {
				v, masked = maskNeg, true
			}
			out = append(out, v)
		}
	}
	if !masked {
		return nil
	}
	return out
}
