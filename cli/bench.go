package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"glimpse/app"
	"glimpse/compute"
	"glimpse/generate"
	"glimpse/internal/outfile"
)

var benchCmd = &Command{
	Name:      "bench",
	UsageLine: "bench --model DIR|NAME [flags]",
	Short:     "measure a model's speed: time to first token, decoding and beam search",
	Long: "Measures time to first token (image encoding and prompt), greedy decoding\n" +
		"speed and beam-search speed, the way docs/PERFORMANCE.md reports them.\n\n",
	Run: runBench,
}

// benchResult is what `glimpse bench` measures, in the units of the
// transformers reference table in docs/PERFORMANCE.md.
type benchResult struct {
	Model          string  `json:"model"`
	Backend        string  `json:"backend"`
	Device         string  `json:"device"`
	Precision      string  `json:"precision"`
	PromptTokens   int     `json:"prompt_tokens"`
	LoadMS         float64 `json:"load_ms"`
	FirstTokenMS   float64 `json:"first_token_ms"`
	GreedyTokensPS float64 `json:"greedy_tokens_per_s"`
	BeamStepsPS    float64 `json:"beam_steps_per_s"`
	Beams          int     `json:"beams"`
	Tokens         int     `json:"tokens"`
	PeakRSSMiB     float64 `json:"peak_rss_mib,omitempty"`
	Counts         struct {
		FirstToken stepCounts  `json:"first_token"`
		DecodeStep stepCounts  `json:"decode_step"`
		BeamStep   *stepCounts `json:"beam_step,omitempty"` // nil with --beams 0
	} `json:"counts"`
}

// stepCounts is the device's work per step (compute.Counts), averaged over
// the measured steps: the number of dispatches, barriers, host transfers
// and copies decides a step's speed on a GPU long before arithmetic does,
// and unlike a timing it is the same on every run.
type stepCounts struct {
	Dispatches    float64 `json:"dispatches"`
	Barriers      float64 `json:"barriers"`
	Uploads       float64 `json:"uploads"`
	UploadBytes   float64 `json:"upload_bytes"`
	Copies        float64 `json:"copies"`
	Clears        float64 `json:"clears"`
	Readbacks     float64 `json:"readbacks"`
	ReadbackBytes float64 `json:"readback_bytes"`
}

// perStep divides c over n steps (n < 1 counts as 1).
func perStep(c compute.Counts, n int) stepCounts {
	d := float64(max(n, 1))
	return stepCounts{float64(c.Dispatches) / d, float64(c.Barriers) / d, float64(c.Uploads) / d,
		float64(c.UploadBytes) / d, float64(c.Copies) / d, float64(c.Clears) / d,
		float64(c.Readbacks) / d, float64(c.ReadbackBytes) / d}
}

// String is the one-line form `glimpse bench` prints.
func (c stepCounts) String() string {
	return fmt.Sprintf("%.1f dispatches, %.1f barriers, %.1f uploads (%.0f B), %.1f copies, %.1f clears, %.1f readbacks (%.0f B)",
		c.Dispatches, c.Barriers, c.Uploads, c.UploadBytes, c.Copies, c.Clears, c.Readbacks, c.ReadbackBytes)
}

func runBench(env *Env, fs *flag.FlagSet, args []string) int {
	stdout, stderr := env.Stdout, env.Stderr
	modelArg := modelFlag(fs)
	imagePath := fs.String("image", "", "image file (default: a generated gradient)")
	prompt := fs.String("prompt", "What is unusual about this image?", "the question")
	tokens := fs.Int("tokens", 32, "tokens to generate in the decoding measurements (EOS is held off until then)")
	beams := fs.Int("beams", 5, "beam width of the beam-search measurement (0: skip it)")
	runs := fs.Int("runs", 3, "runs of each measurement; the best is reported")
	ef := addEngineFlags(fs)
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	cpuProfile := fs.String("cpuprofile", "", "write a Go CPU profile of the measurements (not of loading) to this file, for go tool pprof")
	if code, ok := parse(fs, args, required("model"), noArgs, atLeast("tokens", 1), atLeast("runs", 1), atLeast("beams", 0)); !ok {
		return code
	}
	ctx, stop := interruptible()
	defer stop()

	img := image.Image(gradient(224, 224))
	if *imagePath != "" {
		loaded, err := app.LoadImageContext(ctx, *imagePath)
		if err != nil {
			return failErr(stderr, err)
		}
		img = loaded.Image
	}
	start := time.Now()
	p, err := openModel(ctx, stderr, *modelArg, ef, "measuring the CPU")
	if err != nil {
		return failErr(stderr, err)
	}
	defer p.Close()
	d := p.Describe()
	r := benchResult{Model: d.Name, Backend: d.Backend, Device: d.Device, Precision: d.Precision,
		LoadMS: ms(time.Since(start)), Tokens: *tokens, Beams: *beams}

	if *cpuProfile != "" {
		f, err := outfile.Create(*cpuProfile)
		if err != nil {
			return failErr(stderr, err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Abort()
			return fail(stderr, "cannot profile: %v", err)
		}
		defer func() {
			pprof.StopCPUProfile()
			if err := f.Commit(); err != nil {
				fmt.Fprintf(stderr, "glimpse: %v\n", err)
			}
		}()
	}

	// measure runs cfg `runs` times and keeps the fastest run.
	measure := func(cfg generate.Config) (*app.Result, error) {
		var best *app.Result
		for i := 0; i < *runs; i++ {
			res, err := p.Ask(ctx, []image.Image{img}, []string{*prompt}, cfg, nil)
			if err != nil {
				return nil, err
			}
			if best == nil || res.Timings.Prefill+res.Timings.Decode < best.Timings.Prefill+best.Timings.Decode {
				best = res
			}
		}
		return best, nil
	}
	fixed := func(beams int) generate.Config {
		c := generate.DefaultConfig()
		c.NumBeams, c.MaxNewTokens, c.MinNewTokens = beams, *tokens, *tokens
		return c
	}
	first, err := measure(fixed(1))
	if err != nil {
		return failErr(stderr, err)
	}
	t := first.Timings
	r.PromptTokens = first.Answers[0].PromptTokens
	r.FirstTokenMS = ms(t.Preprocess + t.Prefill)
	if t.Steps > 0 && t.Decode > 0 {
		r.GreedyTokensPS = float64(t.Steps) / t.Decode.Seconds()
	}
	r.Counts.FirstToken = perStep(t.PrefillCounts, 1)
	r.Counts.DecodeStep = perStep(t.DecodeCounts, t.Steps)
	if *beams > 0 {
		beam, err := measure(fixed(*beams))
		if err != nil {
			return failErr(stderr, err)
		}
		if bt := beam.Timings; bt.Steps > 0 && bt.Decode > 0 {
			r.BeamStepsPS = float64(bt.Steps) / bt.Decode.Seconds()
		}
		bs := perStep(beam.Timings.DecodeCounts, beam.Timings.Steps)
		r.Counts.BeamStep = &bs
	}
	r.PeakRSSMiB = peakRSSMiB()

	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(r); err != nil {
			return fail(stderr, "%v", err)
		}
		return 0
	}
	fmt.Fprintf(stdout, "model            %s (%s, %s on %s)\n", r.Model, r.Precision, r.Backend, r.Device)
	fmt.Fprintf(stdout, "prompt           %d tokens (image tokens included)\n", r.PromptTokens)
	fmt.Fprintf(stdout, "load             %.0f ms\n", r.LoadMS)
	fmt.Fprintf(stdout, "first token      %.1f ms (image, Q-Former and prompt)\n", r.FirstTokenMS)
	fmt.Fprintf(stdout, "greedy decode    %.1f tokens/s (%d tokens)\n", r.GreedyTokensPS, r.Tokens)
	if *beams > 0 {
		fmt.Fprintf(stdout, "beam search      %.1f steps/s (%d beams)\n", r.BeamStepsPS, r.Beams)
	}
	fmt.Fprintf(stdout, "first token work %s\n", r.Counts.FirstToken)
	fmt.Fprintf(stdout, "per decode step  %s\n", r.Counts.DecodeStep)
	if r.Counts.BeamStep != nil {
		fmt.Fprintf(stdout, "per beam step    %s\n", *r.Counts.BeamStep)
	}
	if r.PeakRSSMiB > 0 {
		fmt.Fprintf(stdout, "peak memory      %.0f MiB (process, host side)\n", r.PeakRSSMiB)
	}
	return 0
}

// gradient is a deterministic stand-in photo for timing: the speed of the
// networks does not depend on what the image shows.
func gradient(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := m.PixOffset(x, y)
			m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3] = uint8(x), uint8(y), uint8(x^y), 255
		}
	}
	return m
}

// peakRSSMiB reads the process's peak resident memory (Linux); 0 elsewhere.
func peakRSSMiB() float64 {
	if runtime.GOOS != "linux" {
		return 0
	}
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err == nil {
				return kb / 1024
			}
		}
	}
	return 0
}
