package model

import (
	"fmt"
	"reflect"

	"glimpse/checkpoint/config"
	"glimpse/checkpoint/safetensors"
)

// Sizing a model before loading it: the automatic precision (pipeline)
// picks the best one whose weights and a request fit the device, and the
// catalogue (downloads) says how much memory each precision needs. Both
// take their numbers from a Plan, which resolves the checkpoint's tensors
// exactly as Load does (resolveSlots, slot.upload) and counts each at the
// packed size Model.WeightBytes counts after loading (tensorBytes), and
// sizes requests with the same RequestBytes, on the empty network the
// configuration describes.

// TensorShape is one checkpoint tensor: its name and shape (whatever its
// element type in the file; only the shape counts).
type TensorShape struct {
	Name  string
	Shape []int
}

// Plan is a model that is not loaded: its configuration and the
// checkpoint's tensor shapes, enough to say how much memory its weights
// take in each precision and what a request needs.
type Plan struct {
	net    *Model // the empty network: sizes, no weights
	slots  []*slot
	shapes map[string][]int
	layers map[string]int
}

// NewPlan plans loading a checkpoint of configuration cfg that holds
// tensors. Like Load, it refuses (ErrIncomplete) a checkpoint whose layer
// counts disagree with cfg or that lacks a tensor the network needs.
func NewPlan(cfg *config.Model, tensors []TensorShape) (*Plan, error) {
	shapes := make(map[string][]int, len(tensors))
	names := make([]string, 0, len(tensors))
	for _, t := range tensors {
		shapes[t.Name] = t.Shape
		names = append(names, t.Name)
	}
	net, err := newModel(cfg, stackDepths(names))
	if err != nil {
		return nil, err
	}
	slots := collectSlots(reflect.ValueOf(net).Elem(), "")
	missing, layers := resolveSlots(slots, func(name string) bool { _, ok := shapes[name]; return ok })
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: missing tensor %s", ErrIncomplete, missing[0])
	}
	return &Plan{net: net, slots: slots, shapes: shapes, layers: layers}, nil
}

// PlanFolder plans loading the model folder dir: its config.json and the
// shapes in its safetensors headers (nothing else is read).
func PlanFolder(dir string) (*Plan, error) {
	cfg, err := config.Load(dir)
	if err != nil {
		return nil, err
	}
	set, err := safetensors.OpenDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIncomplete, err)
	}
	defer set.Close()
	var tensors []TensorShape
	for _, name := range set.Names() {
		info, _ := set.Info(name)
		tensors = append(tensors, TensorShape{Name: name, Shape: info.Shape})
	}
	return NewPlan(cfg, tensors)
}

// Config is the plan's configuration.
func (p *Plan) Config() *config.Model { return p.net.Config }

// WeightBytes is what the weights will occupy on a backend when loaded in
// precision prec: the same sum Model.WeightBytes gives after Load, each
// tensor at the dtype the loader gives it (the precision's mix, with its
// fallbacks for rows that are no whole block) and counted once however many
// fields share it. It panics on a precision ParsePrecision refuses.
func (p *Plan) WeightBytes(prec Precision) int64 {
	if _, err := ParsePrecision(prec.String()); err != nil {
		panic("model: " + err.Error())
	}
	opt := LoadOptions{Mix: prec}
	var n int64
	seen := map[string]bool{}
	for _, s := range p.slots {
		// Host fields ([]float32: T5's position bias table) take no device
		// memory; Model.WeightBytes does not count them either.
		if !s.found || s.field.Type() != tensorType || seen[s.uploadKey()] {
			continue
		}
		seen[s.uploadKey()] = true
		shape, dtype, err := s.upload(p.shapes[s.chosen.name], opt, p.layers)
		if err != nil {
			continue // Load refuses such a checkpoint; it takes no memory
		}
		n += tensorBytes(dtype, shape)
	}
	return n
}

// RequestBytes is Model.RequestBytes for the model once loaded in
// precision prec (which sets the KV cache's dtype).
func (p *Plan) RequestBytes(prec Precision, r Request) int64 {
	p.net.kvFloat32 = prec == FP32
	return p.net.RequestBytes(r)
}

// SizingPromptTokens is the prompt length, in text tokens after the image
// tokens, that SizingRequest assumes: a question of a few sentences.
const SizingPromptTokens = 64

// SizingBeams and SizingPositions are the seed settings both front ends
// start from (app.SeedSettings: num_beams 5, max_length 256), which
// SizingRequest assumes.
const (
	SizingBeams     = 5
	SizingPositions = 256
)

// SizingRequest is the request a model is sized for before it is loaded:
// one image with a prompt of SizingPromptTokens text tokens after the
// query tokens, SizingBeams beams, and SizingPositions positions (Vicuna's
// prompt included; T5's decoder positions).
func (p *Plan) SizingRequest() Request {
	return Request{Prompts: 1, Sequences: SizingBeams,
		PromptLen: p.net.Config.NumQueryTokens + SizingPromptTokens, Positions: SizingPositions}
}

// Need is the memory the model needs in precision prec: its weights and
// SizingRequest (the KV cache, activations and scratch of one request).
func (p *Plan) Need(prec Precision) int64 {
	return p.WeightBytes(prec) + p.RequestBytes(prec, p.SizingRequest())
}
