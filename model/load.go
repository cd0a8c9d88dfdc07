package model

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"

	"glimpse/checkpoint/safetensors"
	"glimpse/compute"
)

// The loader fills a model struct from a checkpoint the way ollama's
// `gguf:"…"` tags do: every field tagged `st:"name"` names a checkpoint
// tensor relative to the prefixes of the fields that contain it, so one
// walk over the struct loads any architecture.
//
// Tag grammar: `st:"alt1,alt2,…[,optional]"`.
//   - Each alternative is a tensor name; the first one present in the
//     checkpoint is used (real checkpoints and re-saves differ: q_bias and
//     v_bias versus a fused qkv.bias, tied or untied heads).
//   - "name#i/n" takes part i of n equal parts along dimension 0 (the query,
//     key and value rows of a fused qkv matrix).
//   - "optional" leaves the field nil when no alternative is present (biases
//     that some configurations do not have).
//
// Field types:
//   - compute.Tensor: uploaded to the backend. With `kind:"matrix"` it is a
//     weight matrix: flattened to 2-D [rows, rest] (a Conv2d weight becomes
//     the Linear weight that compute.Patches expects) and stored in the
//     precision the caller chose; everything else stays float32, because it
//     is added to or multiplied with float32 activations.
//   - []float32: kept on the host (T5's relative position bias table, which
//     the host turns into per-step bias tensors).
//   - a struct, a non-nil pointer to a struct (or an interface holding
//     one), or a slice of structs sized beforehand from the config: walked with the tag as a name prefix
//     ("encoder.layer" → "encoder.layer.0.", "encoder.layer.1.", …). Nil
//     pointers are parts this configuration does not have, and are skipped.

// ErrIncomplete reports a model folder whose weights lack tensors the
// configuration needs, or hold them in unexpected shapes.
var ErrIncomplete = errors.New("the model folder is incomplete or does not match its config.json")

// LoadOptions configures Load.
type LoadOptions struct {
	// Precision is the element type of the weight matrices (linear layers
	// and embedding tables): compute.F32 (the default) or compute.F16,
	// converted while loading. Norms, biases and added embeddings always
	// stay float32, and activations are float32 in any case, so T5's
	// residual stream and feed-forward output never see half precision.
	Precision compute.DType
	// Mix, if not empty, is the precision policy that picks each weight
	// matrix's dtype by its checkpoint name (the Q8 and Q4 mixes of
	// docs/precision.md), and Precision is ignored.
	Mix Precision
	// Progress, if set, is called after each tensor is uploaded, from the
	// loading goroutine.
	Progress func(LoadProgress)
	// StoreDir, if set, is the folder of converted copies (checkpoint/store):
	// the first load at a precision writes one while converting, later loads
	// read it instead of converting. Empty converts every time.
	StoreDir string
}

// LoadProgress tells how far loading is.
type LoadProgress struct {
	Bytes, TotalBytes     int64 // checkpoint bytes read so far and in all
	Tensors, TotalTensors int   // tensors uploaded so far and in all
	Source                WeightSource
	// Warning is one line for the user when the converted copy was damaged
	// or out of date and is being rebuilt, or cannot be written; else "".
	Warning string
}

// source is one alternative of a tag.
type source struct {
	name        string
	part, parts int // part of parts along dimension 0; parts 0 means whole
}

// slot is one tagged leaf field to fill.
type slot struct {
	field    reflect.Value // settable compute.Tensor or []float32
	path     string        // the prefix, for error messages
	alts     []source
	optional bool
	matrix   bool
	chosen   source // the alternative present in the checkpoint
	found    bool
}

var (
	tensorType = reflect.TypeOf((*compute.Tensor)(nil)).Elem()
	floatsType = reflect.TypeOf([]float32(nil))
)

// collectSlots walks v (a struct value) and returns its tagged leaves.
func collectSlots(v reflect.Value, prefix string) []*slot {
	var out []*slot
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("st")
		if !ok {
			continue
		}
		fv := v.Field(i)
		switch {
		case f.Type == tensorType || f.Type == floatsType:
			s := &slot{field: fv, path: prefix, matrix: f.Tag.Get("kind") == "matrix"}
			for _, alt := range strings.Split(tag, ",") {
				if alt == "optional" {
					s.optional = true
					continue
				}
				s.alts = append(s.alts, parseSource(prefix, alt))
			}
			out = append(out, s)
		case f.Type.Kind() == reflect.Struct:
			out = append(out, collectSlots(fv, prefix+tag+".")...)
		case f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct:
			if !fv.IsNil() {
				out = append(out, collectSlots(fv.Elem(), prefix+tag+".")...)
			}
		case f.Type.Kind() == reflect.Interface && !fv.IsNil() && fv.Elem().Kind() == reflect.Pointer &&
			fv.Elem().Elem().Kind() == reflect.Struct:
			// An architecture chosen by the config (Model.Language): walk
			// the struct the interface holds.
			out = append(out, collectSlots(fv.Elem().Elem(), prefix+tag+".")...)
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			for j := 0; j < fv.Len(); j++ {
				out = append(out, collectSlots(fv.Index(j), prefix+tag+"."+strconv.Itoa(j)+".")...)
			}
		default:
			panic(fmt.Sprintf("model: field %s.%s has tag st:%q but type %s the loader cannot fill", t.Name(), f.Name, tag, f.Type))
		}
	}
	return out
}

// parseSource parses "name" or "name#i/n".
func parseSource(prefix, alt string) source {
	name, part, ok := strings.Cut(alt, "#")
	if !ok {
		return source{name: prefix + name}
	}
	is, ns, _ := strings.Cut(part, "/")
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		panic(fmt.Sprintf("model: bad part %q in tag alternative %q", part, alt))
	}
	return source{name: prefix + name, part: i, parts: n}
}

// weights is what the loader uploaded, so a model can free it.
type weights struct {
	tensors []compute.Tensor
	names   map[compute.Tensor]string // checkpoint name of each tensor, for shape errors
	// host is the packed storage outside the Go heap that the backend
	// reads tensors from (hostmem.go), freed after them.
	host []*hostPacked
}

// release frees every uploaded tensor, then the storage they read.
func (w *weights) release() {
	for _, t := range w.tensors {
		t.Release()
	}
	for _, h := range w.host {
		h.free()
	}
	w.tensors, w.names, w.host = nil, nil, nil
}

// loadWeights fills the tagged fields of the struct dst points to from set,
// uploading to be. On error or cancellation it frees what it uploaded.
func loadWeights(ctx context.Context, be compute.Backend, set *safetensors.Set, dst any, opt LoadOptions, cv *convertedCopy) (w *weights, err error) {
	if opt.Mix != "" {
		if _, err := ParsePrecision(string(opt.Mix)); err != nil {
			return nil, err
		}
	} else if opt.Precision != compute.F32 && opt.Precision != compute.F16 {
		return nil, fmt.Errorf("unsupported weight precision %v (use f32 or f16)", opt.Precision)
	}
	slots := collectSlots(reflect.ValueOf(dst).Elem(), "")

	// Resolve every slot before reading anything, so a missing tensor is
	// reported at once, and count the bytes each distinct tensor adds.
	p := LoadProgress{Source: cv.source()}
	if cv != nil {
		p.Warning = cv.warning
	}
	counted := map[string]bool{}
	missing, layers := resolveSlots(slots, func(name string) bool { _, ok := set.Info(name); return ok })
	for _, s := range slots {
		if s.found {
			if !counted[s.chosen.name] {
				counted[s.chosen.name] = true
				info, _ := set.Info(s.chosen.name)
				p.TotalBytes += info.Size
			}
			p.TotalTensors++
		}
	}
	if len(missing) > 0 {
		more := ""
		if len(missing) > 3 {
			more = fmt.Sprintf(" and %d more", len(missing)-3)
			missing = missing[:3]
		}
		return nil, fmt.Errorf("%w: missing tensor %s%s", ErrIncomplete, strings.Join(missing, ", "), more)
	}

	loaded := &weights{names: map[compute.Tensor]string{}}
	defer func() {
		if err != nil {
			loaded.release()
		}
	}()
	w = loaded
	// Slots reading parts of one tensor are adjacent: keep the last one read.
	var lastName string
	var lastData []float32
	read := map[string]bool{}
	// A tensor named twice (a tied head falling back to the embedding) is
	// uploaded once.
	uploaded := map[string]compute.Tensor{}
	for _, s := range slots {
		if !s.found {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		src := s.chosen
		key := s.uploadKey()
		if t, ok := uploaded[key]; ok && s.field.Type() == tensorType {
			s.field.Set(reflect.ValueOf(t))
			p.Tensors++
			if opt.Progress != nil {
				opt.Progress(p)
			}
			continue
		}
		info, _ := set.Info(src.name)
		// place puts an uploaded tensor in the slot's field (and in the
		// model's weights); done counts the slot as loaded.
		place := func(t compute.Tensor) {
			w.tensors = append(w.tensors, t)
			w.names[t] = src.name
			uploaded[key] = t
			s.field.Set(reflect.ValueOf(t))
		}
		done := func() {
			if !read[src.name] {
				read[src.name] = true
				p.Bytes += info.Size
			}
			p.Tensors++
			if opt.Progress != nil {
				opt.Progress(p)
			}
		}
		if st, ok, err := cv.stored(key); ok {
			// The converted copy holds what this slot would convert to.
			if err != nil {
				return nil, err
			}
			if s.field.Type() == floatsType {
				s.field.Set(reflect.ValueOf(compute.Unpack(st.DType, st.Shape, st.Words, st.Scales)))
			} else {
				t, host, err := cv.upload(be, key, st)
				if err != nil {
					return nil, fmt.Errorf("uploading %s: %w", src.name, err)
				}
				if host != nil {
					w.host = append(w.host, host)
				}
				place(t)
			}
			done()
			continue
		}
		if src.name != lastName {
			// One buffer for every tensor: uploads copy what they keep.
			// The float32 copy is what gets uploaded, so the mapped file
			// pages can go, and they go as the copy advances: loading never
			// holds the whole checkpoint, nor a large tensor's file pages
			// beside its float32 copy (lm_head: 0.53 GB of each).
			data, err := set.ReadFloat32Evict(src.name, lastData)
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", src.name, err)
			}
			lastName, lastData = src.name, data
		}
		data := lastData
		if src.parts > 0 && len(info.Shape) > 0 && info.Shape[0]%src.parts == 0 {
			n := len(data) / src.parts
			data = data[src.part*n : (src.part+1)*n]
		}
		if s.field.Type() == floatsType {
			shape, err := s.partShape(info.Shape)
			if err != nil {
				return nil, err
			}
			s.field.Set(reflect.ValueOf(append([]float32(nil), data...)))
			cv.keep(key, compute.F32, shape, data)
		} else {
			shape, dtype, err := s.upload(info.Shape, opt, layers)
			if err != nil {
				return nil, err
			}
			t, host, err := cv.convert(be, key, dtype, shape, data)
			if err != nil {
				return nil, fmt.Errorf("uploading %s: %w", src.name, err)
			}
			if host != nil {
				w.host = append(w.host, host)
			}
			place(t)
		}
		done()
	}
	if lastData != nil {
		// The conversion buffer (as large as the largest tensor, half a
		// gigabyte for a 7B model's embedding table) is garbage now: give
		// it back to the system rather than keep it in the process until
		// the collector's scavenger gets to it.
		lastData = nil
		debug.FreeOSMemory()
	}
	return w, nil
}

// resolveSlots picks each slot's first alternative that the checkpoint
// holds (has), marking it found, and returns the required tensors that are
// missing (each slot's first name) and the layer counts of each stack among
// the chosen names (stackLayers, for the Q4 mix). The loader and the
// weight-size plan (fit.go) resolve a checkpoint the same way.
func resolveSlots(slots []*slot, has func(name string) bool) (missing []string, layers map[string]int) {
	var names []string
	for _, s := range slots {
		for _, a := range s.alts {
			if has(a.name) {
				s.chosen, s.found = a, true
				names = append(names, a.name)
				break
			}
		}
		if !s.found && !s.optional {
			missing = append(missing, s.alts[0].name)
		}
	}
	return missing, stackLayers(names)
}

// uploadKey names what a found slot uploads, so that slots naming the same
// tensor (a tied head falling back to the embedding) upload it once.
func (s *slot) uploadKey() string {
	return fmt.Sprintf("%s#%d/%d %v", s.chosen.name, s.chosen.part, s.chosen.parts, s.matrix)
}

// partShape is the shape of the slot's part of a checkpoint tensor of the
// given shape: the whole, or one of parts along dimension 0.
func (s *slot) partShape(shape []int) ([]int, error) {
	shape = append([]int(nil), shape...)
	if src := s.chosen; src.parts > 0 {
		if len(shape) == 0 || shape[0]%src.parts != 0 {
			return nil, fmt.Errorf("%w: %s has shape %v, which does not split into %d parts", ErrIncomplete, src.name, shape, src.parts)
		}
		shape[0] /= src.parts
	}
	return shape, nil
}

// upload returns the shape and dtype a found tensor slot is uploaded in,
// given its checkpoint tensor's shape: a matrix flattened to 2-D in the
// precision opt chooses for it, anything else float32. layers is
// resolveSlots' count. The loader uploads this, and the weight-size plan
// (fit.go) counts it.
func (s *slot) upload(ckpt []int, opt LoadOptions, layers map[string]int) ([]int, compute.DType, error) {
	shape, err := s.partShape(ckpt)
	if err != nil {
		return nil, 0, err
	}
	dtype := compute.F32
	if s.matrix {
		if len(shape) < 2 {
			return nil, 0, fmt.Errorf("%w: %s has shape %v, expected a matrix", ErrIncomplete, s.chosen.name, ckpt)
		}
		shape = []int{shape[0], compute.NumElements(shape[1:])}
		dtype = opt.Precision
		if opt.Mix != "" {
			dtype = opt.Mix.dtypeFor(s.chosen.name, shape, layers)
		}
	}
	if len(shape) == 0 {
		shape = []int{1}
	}
	return shape, dtype, nil
}

// shapeCheck collects shape mismatches between loaded tensors and what the
// configuration implies, so that a checkpoint that does not match its
// config.json is reported instead of making an operation panic.
type shapeCheck struct {
	w    *weights
	errs []string
}

// want records an error unless t (if loaded) has exactly the given shape.
func (c *shapeCheck) want(t compute.Tensor, dims ...int) {
	if t == nil {
		return
	}
	got := t.Shape()
	if len(got) == len(dims) {
		same := true
		for i := range dims {
			same = same && got[i] == dims[i]
		}
		if same {
			return
		}
	}
	c.errs = append(c.errs, fmt.Sprintf("%s has shape %v, config.json implies %v", c.w.names[t], got, dims))
}

// wantLinear checks a linear layer's weight [out, in] and bias [out].
func (c *shapeCheck) wantLinear(l *Linear, out, in int) {
	c.want(l.Weight, out, in)
	c.want(l.Bias, out)
}

// err returns the collected mismatches as one error.
func (c *shapeCheck) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	more := ""
	if len(c.errs) > 3 {
		more = fmt.Sprintf(" (and %d more)", len(c.errs)-3)
		c.errs = c.errs[:3]
	}
	return fmt.Errorf("%w: %s%s", ErrIncomplete, strings.Join(c.errs, "; "), more)
}
