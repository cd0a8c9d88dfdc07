// Package pipeline answers questions about images end to end: it opens a
// model folder on a compute backend, turns images and prompts into the
// model's inputs, and generates the answers with transformers' semantics.
// The application layer (glimpse/app) opens it for both front ends, so they
// give the same answers; finding a model by name is app's business.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"image"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"glimpse/checkpoint/config"
	"glimpse/compute"
	"glimpse/compute/cpu"
	"glimpse/compute/gl"
	"glimpse/generate"
	"glimpse/input/processor"
	"glimpse/model"
)

// Options configures Open.
type Options struct {
	// Name labels the model in Describe (an installed model's name, say);
	// empty means the folder's base name.
	Name string
	// Backend is "gl" (the GPU through OpenGL 4.3), "cpu", or "auto" / ""
	// (gl when it can start, else cpu).
	Backend string
	// Precision is the weight precision: "fp32", "fp16", "q8" (8-bit
	// blocks), "q4" (llama.cpp's Q4_K_M mix: 4-bit K-quants with the
	// sensitive tensors at 8 bits; docs/precision.md), or "auto" / "": the
	// best precision whose weights and one request fit Memory (fp32, fp16,
	// q8, q4 on cpu; fp16, q8, q4 on gl), or fp16 on gl and fp32 on cpu
	// where Memory is unknown. Description.Auto says why; a model that
	// fits in no precision is a *FitError (ErrNoFit).
	Precision string
	// Memory, if set, says how much memory the started backend has for the
	// model (the GPU's free memory where the driver reports it, else the
	// system's available memory), for the automatic precision. Unset or 0
	// bytes means unknown.
	Memory func(backend string, info compute.Info) DeviceMemory
	// Progress, if set, receives loading progress from the loading goroutine.
	Progress func(model.LoadProgress)
	// Fallback, if set, is told why an "auto" backend fell back to the CPU.
	Fallback func(reason error)
	// Available, if set, says how many bytes the backend can still give one
	// request beyond the loaded weights (the system's available memory for
	// the CPU, the GPU's memory less the weights for gl); Ask asks it before
	// each request and refuses one whose estimate does not fit. 0 or less
	// means unknown, and nothing is checked.
	Available func() int64
	// StoreDir, if set, is the folder of converted copies of the weights
	// (model.LoadOptions.StoreDir): the first load at a precision converts
	// and keeps the result there, later loads read it without converting.
	StoreDir string
}

// Description says what a Pipeline runs, for status bars and logs.
type Description struct {
	Dir         string // the model folder
	Name        string // the folder's base name or the installed model's name
	Backend     string // "gl" or "cpu"
	Device      string // the GPU's name (GL_RENDERER) or the CPU's
	Precision   string // "fp32", "fp16", "q8" or "q4"
	WeightBytes int64  // bytes of checkpoint loaded
	// DeviceBytes is what the weights occupy on the backend as loaded
	// (model.Model.WeightBytes): about half of WeightBytes in fp16, and
	// the mix's formats in q8 and q4.
	DeviceBytes int64
	Decoder     string // "llama" or "t5"
	// Software says the GL backend renders on the CPU (Mesa's llvmpipe,
	// asked for with "gl"): it runs, but it is no GPU and must not be
	// called one.
	Software bool
	// NoGPU says why an "auto" backend runs on the CPU (macOS has no
	// OpenGL 4.3, say); empty when the GPU runs or the CPU was asked for.
	NoGPU string
	// Revision is the Hub commit when the folder is a snapshot in the
	// Hugging Face cache (…/snapshots/COMMIT), else empty.
	Revision string
	// Weights says where the weights came from: "loaded from the converted
	// copy", "converting (once)" (and kept for the next load) or
	// "converting" (no store folder).
	Weights string
	// WeightsWarning is one line when the converted copy was damaged or
	// out of date and was rebuilt, or could not be written; else "".
	WeightsWarning string
	// Auto says why the automatic precision chose Precision; nil when a
	// precision was named.
	Auto *AutoChoice
}

// Pipeline is a loaded model ready to answer. Ask may be called from one
// goroutine at a time.
type Pipeline struct {
	folder    *config.Folder
	proc      *processor.Processor
	net       *model.Model
	backend   compute.Backend
	desc      Description
	available func() int64
}

// ErrSoftwareGL is why an "auto" backend skipped an OpenGL that renders on
// the CPU (see compute.SoftwareRenderer); "gl" still uses it when asked.
var ErrSoftwareGL = errors.New("no GPU: OpenGL renders in software")

// ErrBadOption reports an unknown backend or precision name.
var ErrBadOption = errors.New("unknown option")

// ErrNoMemory is matched by a *MemoryError: a request that would not fit
// in the memory the backend has left.
var ErrNoMemory = errors.New("not enough memory for this request")

// MemoryError is a request refused before it started because its estimate
// (model.Model.RequestBytes) exceeds the memory available.
type MemoryError struct {
	Need, Available int64  // bytes beyond the weights
	Where           string // "memory" (the CPU's) or "GPU memory"
}

// Error gives both numbers and what to change, in one line.
func (e *MemoryError) Error() string {
	return fmt.Sprintf("this request needs about %s of %s beyond the model's weights, and %s is available: "+
		"ask about fewer images at once, use fewer beams, or lower max_length / max_new_tokens",
		formatBytes(e.Need), e.Where, formatBytes(e.Available))
}

// Is reports that e is an ErrNoMemory.
func (e *MemoryError) Is(target error) bool { return target == ErrNoMemory }

// formatBytes writes a size in binary units for people: "1.5 GiB",
// "300 MiB", "12 KiB".
func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// Open starts the compute backend and loads the model in folder dir.
// Cancelling ctx stops loading.
func Open(ctx context.Context, dir string, opt Options) (*Pipeline, error) {
	folder, err := config.LoadFolder(dir)
	if err != nil {
		return nil, err
	}
	proc, err := processor.Load(dir)
	if err != nil {
		return nil, err
	}
	var noGPU string
	fallback := opt.Fallback
	opt.Fallback = func(err error) {
		noGPU = err.Error()
		if fallback != nil {
			fallback(err)
		}
	}
	be, backend, err := startBackend(opt)
	if err != nil {
		return nil, err
	}
	var auto *AutoChoice
	chosen := opt.Precision
	if chosen == "auto" || chosen == "" {
		chosen, auto, err = autoPrecision(dir, backend, be.Info(), opt)
		if err != nil {
			be.Close()
			return nil, err
		}
	}
	dtype, mix, precision, err := weightType(chosen, backend)
	if err != nil {
		be.Close()
		return nil, err
	}
	var loaded int64
	lopt := model.LoadOptions{Precision: dtype, Mix: mix, StoreDir: opt.StoreDir, Progress: func(p model.LoadProgress) {
		loaded = p.TotalBytes
		if opt.Progress != nil {
			opt.Progress(p)
		}
	}}
	net, err := model.Load(ctx, be, dir, lopt)
	if err != nil {
		be.Close()
		return nil, err
	}
	name := opt.Name
	if name == "" {
		name = filepath.Base(filepath.Clean(dir))
	}
	return &Pipeline{folder: folder, proc: proc, net: net, backend: be, available: opt.Available, desc: Description{
		Dir: dir, Name: name, Backend: backend, Device: be.Info().Device, Precision: precision,
		WeightBytes: loaded, DeviceBytes: net.WeightBytes(), Decoder: net.Decoder(), Revision: snapshotCommit(dir), NoGPU: noGPU,
		Software: backend == "gl" && compute.SoftwareRenderer(be.Info().Device),
		Weights:  net.WeightSource().String(), WeightsWarning: net.WeightWarning(), Auto: auto,
	}}, nil
}

// newGL starts the GPU backend; tests replace it to exercise the fallback of
// machines without OpenGL 4.3.
var newGL = gl.New

func startBackend(opt Options) (compute.Backend, string, error) {
	switch opt.Backend {
	case "cpu":
		return cpu.New(), "cpu", nil
	case "gl":
		be, err := newGL()
		if err != nil {
			return nil, "", fmt.Errorf("the GPU (OpenGL 4.3) backend cannot start: %w", err)
		}
		return be, "gl", nil
	case "auto", "":
		be, err := newGL()
		if err == nil && compute.SoftwareRenderer(be.Info().Device) {
			// Mesa's llvmpipe and its kin run the shaders on the CPU,
			// several times slower than the CPU engine itself.
			err = fmt.Errorf("%w: the only OpenGL here is %s, which renders in software", ErrSoftwareGL, be.Info().Device)
			be.Close()
		}
		if err != nil {
			if opt.Fallback != nil {
				opt.Fallback(err)
			}
			return cpu.New(), "cpu", nil
		}
		return be, "gl", nil
	}
	return nil, "", fmt.Errorf("%w: backend %q (use gl, cpu or auto)", ErrBadOption, opt.Backend)
}

// weightType resolves a precision name: the dtype that names the load
// (uniform for fp32 and fp16; for q8 and q4 the mix's main dtype, so that a
// converted copy is kept per mix), the mix policy (empty for the uniform
// precisions) and the name Describe reports.
func weightType(precision, backend string) (compute.DType, model.Precision, string, error) {
	switch precision {
	case "fp32":
		return compute.F32, "", "fp32", nil
	case "fp16":
		return compute.F16, "", "fp16", nil
	case "q8":
		return compute.Q8, model.Q8, "q8", nil
	case "q4":
		return compute.Q4K, model.Q4, "q4", nil
	case "auto", "":
		if backend == "gl" {
			return compute.F16, "", "fp16", nil
		}
		return compute.F32, "", "fp32", nil
	}
	return 0, "", "", fmt.Errorf("%w: precision %q (use fp32, fp16, q8, q4 or auto)", ErrBadOption, precision)
}

// snapshotCommit returns COMMIT for a folder …/snapshots/COMMIT of the
// Hugging Face cache layout (40 hex digits), or "".
func snapshotCommit(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	commit := filepath.Base(abs)
	if filepath.Base(filepath.Dir(abs)) != "snapshots" || len(commit) != 40 {
		return ""
	}
	for _, c := range commit {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return ""
		}
	}
	return commit
}

// Describe says what the pipeline runs.
func (p *Pipeline) Describe() Description { return p.desc }

// Processor returns the pipeline's input processor (tokenizers and image
// settings), for callers that show token counts or adjust limits.
func (p *Pipeline) Processor() *processor.Processor { return p.proc }

// Close frees the model's device memory and the backend.
func (p *Pipeline) Close() {
	p.net.Close()
	p.backend.Close()
}

// Timings measure one Ask.
type Timings struct {
	Preprocess time.Duration // images and prompts to inputs
	Prefill    time.Duration // vision encoder, Q-Former and the prompt
	Decode     time.Duration // the generation steps after the first
	Steps      int           // generation steps after the prefill

	// The device's work (compute.CountsOf) in the prefill, and in the
	// steps after it (beam reorders included): what `glimpse bench`
	// reports per step.
	PrefillCounts, DecodeCounts compute.Counts
}

// Answer is one generated answer.
type Answer struct {
	Text         string
	Sequence     []int32 // transformers' generate() output: prompt (Vicuna) or start token (T5) first
	PromptTokens int     // language-model prompt tokens, image tokens included
	NewTokens    int
	Score        float32 // beam score (beam search) or 0
	EOS          bool    // ended with an end-of-answer token, not at the length limit
}

// Result is what Ask returns: one answer per image (per prompt), or
// NumReturnSequences per image with beam search, in order.
type Result struct {
	Answers  []Answer
	Warnings []string // e.g. a prompt truncated to fit the model
	Timings  Timings
}

// Ask answers prompts[i] about images[i] (a batch, left-padded as
// transformers does). cfg's model-dependent fields (EOS, PadID, Suppress,
// Decode, Partial) are filled from the model; stream receives generate's
// events. Cancelling ctx stops within one step.
func (p *Pipeline) Ask(ctx context.Context, images []image.Image, prompts []string, cfg generate.Config, stream func(generate.Event)) (*Result, error) {
	start := time.Now()
	in, err := p.process(images, prompts, cfg)
	if err != nil {
		return nil, err
	}
	res := &Result{Warnings: in.Warnings}
	res.Timings.Preprocess = time.Since(start)
	conf := p.Configure(cfg)
	if err := p.fits(in, conf); err != nil {
		return res, err
	}
	sess, err := p.net.NewSession(&model.Inputs{PixelValues: in.PixelValues, InputIDs: in.InputIDs,
		AttentionMask: in.AttentionMask, QFormerInputIDs: in.QFormerInputIDs, QFormerAttentionMask: in.QFormerAttentionMask})
	if err != nil {
		return nil, err
	}
	// The KV cache is allocated once, for the longest this request can run
	// within the model's context (generate refuses a longer request before
	// the first step, and one it cannot resolve).
	if positions, err := conf.MaxPositions(len(p.prefix(in)[0])); err == nil && conf.PositionLimit > 0 {
		positions = min(positions, conf.PositionLimit)
		if err := sess.Reserve(positions, len(in.InputIDs)*max(conf.NumBeams, conf.NumReturnSequences, 1)); err != nil {
			sess.Close()
			return nil, err
		}
	}
	timed := &timedSession{Session: sess, counts: func() compute.Counts { return compute.CountsOf(p.backend) }}
	out, err := generate.Generate(ctx, timed, p.prefix(in), conf, stream)
	res.Timings.Prefill, res.Timings.Decode, res.Timings.Steps = timed.prefill, timed.steps, timed.nsteps
	res.Timings.PrefillCounts, res.Timings.DecodeCounts = timed.prefillCounts, timed.decodeCounts
	if err != nil {
		return res, err
	}
	for _, r := range out {
		res.Answers = append(res.Answers, Answer{Text: r.Text, Sequence: r.Sequence,
			PromptTokens: len(in.InputIDs[0]), NewTokens: r.NewTokens, Score: r.Score, EOS: r.EOS})
	}
	return res, nil
}

// fits refuses a request whose memory estimate exceeds what the backend
// has left, before anything is allocated: a request that cannot fit would
// otherwise grow until the system kills the process, or the GPU driver
// fails in the middle of a step. Settings generate would refuse are left
// for it to word.
func (p *Pipeline) fits(in *processor.Inputs, cfg generate.Config) error {
	if p.available == nil {
		return nil
	}
	prefix := p.prefix(in)
	positions, err := cfg.MaxPositions(len(prefix[0]))
	if err != nil {
		return nil
	}
	avail := p.available()
	if avail <= 0 {
		return nil
	}
	prompts := len(in.InputIDs)
	need := p.net.RequestBytes(model.Request{Prompts: prompts, Sequences: prompts * max(cfg.NumBeams, cfg.NumReturnSequences, 1),
		PromptLen: len(in.InputIDs[0]), Positions: positions})
	if need <= avail {
		return nil
	}
	where := "memory"
	if p.desc.Backend == "gl" {
		where = "GPU memory"
	}
	return &MemoryError{Need: need, Available: avail, Where: where}
}

// process turns images and prompts into the model's inputs. A model that
// continues its prompt (Vicuna) shares its context between the prompt and
// the answer, so when max_new_tokens would not fit after a prompt that the
// processor cut to the whole context, the prompt is cut further to leave
// room, with a warning. (With max_length instead, the prompt counts
// against it and generate refuses a prompt that leaves no room.)
func (p *Pipeline) process(images []image.Image, prompts []string, cfg generate.Config) (*processor.Inputs, error) {
	in, err := p.proc.Process(images, prompts)
	if err != nil {
		return nil, err
	}
	limit := p.folder.Model.Text.Language.ContextLength()
	n := len(in.InputIDs[0])
	continues := len(p.prefix(in)[0]) == n // the generation prefix is the prompt itself
	if limit <= 0 || cfg.MaxNewTokens <= 0 || !continues || n+cfg.MaxNewTokens <= limit {
		return in, nil
	}
	room := limit - cfg.MaxNewTokens - p.proc.NumQueryTokens // text tokens that fit
	if room <= p.proc.Tokenizer.NumSpecialToAdd() {
		return in, nil // no prompt fits: generate refuses, naming the limits
	}
	short := *p.proc
	short.MaxTextTokens = room
	cut, err := short.Process(images, prompts)
	if err != nil {
		return nil, err
	}
	cut.Warnings = append(cut.Warnings, fmt.Sprintf("the prompt was cut to %d tokens to leave room for %d new tokens in the model's %d positions",
		room, cfg.MaxNewTokens, limit))
	return cut, nil
}

// Configure fills in what generation takes from the model: EOS from the
// tokenizer (Vicuna's configs name the wrong id), the pad id, the tokens
// never to generate, the position limit, and the decoder for the text.
func (p *Pipeline) Configure(c generate.Config) generate.Config {
	tok := p.proc.Tokenizer
	gen := p.folder.Generation
	c.EOS = nil
	if eos, ok := tok.EOS(); ok {
		c.EOS = []int32{eos}
	} else if id, ok := gen.EOSTokenID.First(); ok {
		c.EOS = []int32{int32(id)}
	}
	// Vicuna's files say pad_token_id -1 (no token); a fill id must be a
	// real one, since finished beams are fed it.
	switch pad, ok := gen.PadTokenID.First(); {
	case ok && pad >= 0:
		c.PadID = int32(pad)
	default:
		if id, ok := tok.PAD(); ok {
			c.PadID = id
		} else if len(c.EOS) > 0 {
			c.PadID = c.EOS[0]
		}
	}
	c.Suppress = p.suppressed(c.EOS)
	// The language model's context caps every length; T5's decoder gets
	// the same cap as its encoder.
	c.PositionLimit = p.folder.Model.Text.Language.ContextLength()
	c.Decode = func(ids []int32) string { return tok.Decode(ids, true) }
	c.Partial = generate.ByteFallback(tok.IDToToken)
	return c
}

// suppressed lists the ids an answer must never contain: the `<image>`
// placeholder, the padding token (unless it ends answers), and the rows of a
// padded output layer that the tokenizer has no token for. transformers
// itself can emit them (the tiny Flan-T5 fixture does, in one beam search);
// Glimpse's users never should see them. Flan-T5's <extra_id_*> tokens are
// real vocabulary and stay allowed.
func (p *Pipeline) suppressed(eos []int32) []int32 {
	tok := p.proc.Tokenizer
	ids := []int32{p.proc.ImageTokenID}
	if pad, ok := tok.PAD(); ok && !slices.Contains(eos, pad) {
		ids = append(ids, pad)
	}
	for id := tok.VocabSize(); id < p.net.VocabSize(); id++ {
		ids = append(ids, int32(id))
	}
	return ids
}

// prefix is what generate() starts from: the prompt ids for Vicuna, the
// decoder start token for Flan-T5.
func (p *Pipeline) prefix(in *processor.Inputs) [][]int32 {
	return p.net.GenerationPrefix(in.InputIDs, p.folder.Generation.DecoderStartTokenID)
}

// timedSession measures the prefill and the steps of a generation, in
// time and in device work. The step counts run from the end of the prefill
// to the end of the last step, so that reorders between steps count.
type timedSession struct {
	generate.Session
	prefill, steps time.Duration
	nsteps         int

	counts                      func() compute.Counts
	afterPrefill                compute.Counts
	prefillCounts, decodeCounts compute.Counts
}

func (s *timedSession) Prefill(ctx context.Context) ([][]float32, error) {
	before := s.counts()
	start := time.Now()
	defer func() {
		s.prefill += time.Since(start)
		s.afterPrefill = s.counts()
		s.prefillCounts = s.afterPrefill.Sub(before)
	}()
	return s.Session.Prefill(ctx)
}

func (s *timedSession) Step(ctx context.Context, tokens []int32) ([][]float32, error) {
	defer s.timeStep(time.Now())
	return s.Session.Step(ctx, tokens)
}

// timeStep adds a step that started at start.
func (s *timedSession) timeStep(start time.Time) {
	s.steps += time.Since(start)
	s.nsteps++
	// Counted outside the timing: it waits for the GL thread's queue.
	s.decodeCounts = s.counts().Sub(s.afterPrefill)
}

// The generate.DeviceSelector methods pass through to a model session that
// selects tokens on its device, timed as Step is, so that wrapping the
// session does not send generation back to reading the logits.

// SelectStart's work (the request's masks and seen tokens, uploaded once)
// counts with the first token's, not spread over the decoding steps.
func (s *timedSession) SelectStart(seqs [][]int32, scores []float32, penalty float32, eos, suppress []int32, k int) bool {
	d, ok := s.Session.(generate.DeviceSelector)
	if !ok {
		return false
	}
	before := s.counts()
	started := d.SelectStart(seqs, scores, penalty, eos, suppress, k)
	if s.nsteps == 0 {
		after := s.counts()
		s.prefillCounts = s.prefillCounts.Add(after.Sub(before))
		s.afterPrefill = s.afterPrefill.Add(after.Sub(before))
	}
	return started
}

func (s *timedSession) StepArgmax(ctx context.Context, tokens []int32, maskEOS bool, bans [][]int32) ([]int32, error) {
	defer s.timeStep(time.Now())
	return s.Session.(generate.DeviceSelector).StepArgmax(ctx, tokens, maskEOS, bans)
}

func (s *timedSession) StepBeams(ctx context.Context, tokens []int32, maskEOS bool, bans [][]int32) ([]float32, []int32, error) {
	defer s.timeStep(time.Now())
	return s.Session.(generate.DeviceSelector).StepBeams(ctx, tokens, maskEOS, bans)
}
