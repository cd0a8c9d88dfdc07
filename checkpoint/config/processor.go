package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
)

// PIL resampling filter codes, as image processors store them in "resample".
const (
	ResampleNearest  = 0
	ResampleLanczos  = 1
	ResampleBilinear = 2
	ResampleBicubic  = 3
	ResampleBox      = 4
	ResampleHamming  = 5
)

// ImageProcessor is BlipImageProcessor's settings: resize to Width×Height
// (aspect ratio not kept, no crop), multiply by RescaleFactor, normalize
// per channel with Mean and Std.
type ImageProcessor struct {
	Width, Height int
	DoResize      bool
	Resample      int // a PIL filter code (ResampleBicubic for InstructBLIP)
	DoRescale     bool
	RescaleFactor float64
	DoNormalize   bool
	Mean, Std     [3]float64
	DoConvertRGB  bool
}

// Processor is what InstructBlipProcessor needs beyond the tokenizers.
type Processor struct {
	Image ImageProcessor
	// NumQueryTokens is how many `<image>` tokens go before the prompt:
	// processor_config.json's value, else config.json's.
	NumQueryTokens int
}

// DefaultImageProcessor returns BlipImageProcessor's defaults. (Its 384×384
// is BLIP's size; InstructBLIP folders always say 224×224.)
func DefaultImageProcessor() ImageProcessor {
	return ImageProcessor{Width: 384, Height: 384, DoResize: true, Resample: ResampleBicubic,
		DoRescale: true, RescaleFactor: 1.0 / 255, DoNormalize: true,
		Mean:         [3]float64{0.48145466, 0.4578275, 0.40821073},  // OPENAI_CLIP_MEAN
		Std:          [3]float64{0.26862954, 0.26130258, 0.27577711}, // OPENAI_CLIP_STD
		DoConvertRGB: true}
}

type rawImageProcessor struct {
	Size          json.RawMessage `json:"size"`
	DoResize      *bool           `json:"do_resize"`
	Resample      json.RawMessage `json:"resample"`
	DoRescale     *bool           `json:"do_rescale"`
	RescaleFactor *float64        `json:"rescale_factor"`
	DoNormalize   *bool           `json:"do_normalize"`
	ImageMean     json.RawMessage `json:"image_mean"`
	ImageStd      json.RawMessage `json:"image_std"`
	DoConvertRGB  *bool           `json:"do_convert_rgb"`
}

type rawProcessor struct {
	ImageProcessor json.RawMessage `json:"image_processor"`
	NumQueryTokens *int            `json:"num_query_tokens"`
}

// LoadProcessor reads the processor settings of a model folder.
// transformers 5 nests the image processor in processor_config.json
// ("image_processor"); older folders keep it flat in
// preprocessor_config.json and only num_query_tokens in
// processor_config.json. Both layouts are read, the nested one first.
// m supplies num_query_tokens when no processor file has it.
func LoadProcessor(dir string, m *Model) (*Processor, error) {
	p := &Processor{}
	var imageJSON json.RawMessage
	var imageFrom string
	b, err := readFile(dir, ProcessorFile)
	switch {
	case err == nil:
		var raw rawProcessor
		if err := json.Unmarshal(b, &raw); err != nil {
			return nil, fmt.Errorf("%s: not valid JSON: %v", filepath.Join(dir, ProcessorFile), err)
		}
		if raw.NumQueryTokens != nil {
			p.NumQueryTokens = *raw.NumQueryTokens
		}
		if !isAbsent(raw.ImageProcessor) {
			imageJSON, imageFrom = raw.ImageProcessor, filepath.Join(dir, ProcessorFile)
		}
	case !errors.Is(err, ErrMissing):
		return nil, err
	}
	if imageJSON == nil {
		b, err := readFile(dir, PreprocessorFile)
		if errors.Is(err, ErrMissing) {
			return nil, fmt.Errorf("%w: %s has no %s (or %s with an \"image_processor\" entry): the image settings are missing",
				ErrMissing, dir, PreprocessorFile, ProcessorFile)
		}
		if err != nil {
			return nil, err
		}
		imageJSON, imageFrom = b, filepath.Join(dir, PreprocessorFile)
		// Some folders keep num_query_tokens in the preprocessor file too.
		var raw rawProcessor
		if json.Unmarshal(b, &raw) == nil && raw.NumQueryTokens != nil && p.NumQueryTokens == 0 {
			p.NumQueryTokens = *raw.NumQueryTokens
		}
	}
	img, err := ParseImageProcessor(imageJSON)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", imageFrom, err)
	}
	p.Image = *img
	if p.NumQueryTokens == 0 && m != nil {
		p.NumQueryTokens = m.NumQueryTokens
	}
	if p.NumQueryTokens <= 0 {
		return nil, fmt.Errorf("num_query_tokens is missing from %s and %s", ProcessorFile, ModelFile)
	}
	return p, nil
}

// ParseImageProcessor decodes BlipImageProcessor settings (the flat
// preprocessor_config.json form, or the "image_processor" object).
func ParseImageProcessor(b []byte) (*ImageProcessor, error) {
	var r rawImageProcessor
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	p := DefaultImageProcessor()
	setBool := func(dst *bool, src *bool) {
		if src != nil {
			*dst = *src
		}
	}
	setBool(&p.DoResize, r.DoResize)
	setBool(&p.DoRescale, r.DoRescale)
	setBool(&p.DoNormalize, r.DoNormalize)
	setBool(&p.DoConvertRGB, r.DoConvertRGB)
	if r.RescaleFactor != nil {
		p.RescaleFactor = *r.RescaleFactor
	}
	if !isAbsent(r.Size) {
		if err := parseSize(r.Size, &p); err != nil {
			return nil, err
		}
	}
	if !isAbsent(r.Resample) {
		if err := json.Unmarshal(r.Resample, &p.Resample); err != nil || p.Resample < 0 || p.Resample > 5 {
			return nil, fmt.Errorf("resample %s is not a PIL filter code (0–5)", r.Resample)
		}
	}
	for _, c := range []struct {
		name string
		raw  json.RawMessage
		dst  *[3]float64
	}{{"image_mean", r.ImageMean, &p.Mean}, {"image_std", r.ImageStd, &p.Std}} {
		if isAbsent(c.raw) {
			continue
		}
		if err := parseTriple(c.raw, c.dst); err != nil {
			return nil, fmt.Errorf("%s: %v", c.name, err)
		}
	}
	if p.DoNormalize {
		for _, s := range p.Std {
			if s == 0 {
				return nil, errors.New("image_std has a zero entry")
			}
		}
	}
	return &p, nil
}

// parseSize accepts an int (a square) or {"height": h, "width": w}.
func parseSize(b json.RawMessage, p *ImageProcessor) error {
	var n int
	if json.Unmarshal(b, &n) == nil {
		p.Width, p.Height = n, n
	} else {
		var s struct {
			Height       *int `json:"height"`
			Width        *int `json:"width"`
			ShortestEdge *int `json:"shortest_edge"`
		}
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("size %s: %v", b, err)
		}
		if s.Height == nil || s.Width == nil {
			return fmt.Errorf("size %s must give height and width, as BlipImageProcessor requires", b)
		}
		p.Width, p.Height = *s.Width, *s.Height
	}
	if p.Width <= 0 || p.Height <= 0 || p.Width > 8192 || p.Height > 8192 {
		return fmt.Errorf("size %d×%d is out of range", p.Width, p.Height)
	}
	return nil
}

// parseTriple accepts one number for all three channels or a list of three.
func parseTriple(b json.RawMessage, dst *[3]float64) error {
	var v float64
	if json.Unmarshal(b, &v) == nil {
		*dst = [3]float64{v, v, v}
		return nil
	}
	var list []float64
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	if len(list) != 3 {
		return fmt.Errorf("needs 3 values (R, G, B), has %d", len(list))
	}
	copy(dst[:], list)
	return nil
}
