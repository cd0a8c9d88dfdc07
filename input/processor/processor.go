// Package processor builds the inputs of an InstructBLIP model from images
// and prompts exactly as transformers' InstructBlipProcessor does: the
// language model's ids with NumQueryTokens `<image>` tokens in front, the
// Q-Former's ids for the same instruction, and the normalized pixels.
package processor

import (
	"errors"
	"fmt"
	"image"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"glimpse/checkpoint/config"
	"glimpse/input/imageproc"
	"glimpse/input/tokenizer"
)

// QFormerTokenizerDir is the sub-folder of a model folder that holds the
// Q-Former's (bert-base-uncased) tokenizer.
const QFormerTokenizerDir = "qformer_tokenizer"

// ImageToken is the text of the token the processor repeats before the
// prompt; the model overwrites those positions with the Q-Former outputs.
const ImageToken = "<image>"

// Processor turns images and prompts into model inputs. Its fields may be
// adjusted after Load (for example MaxTextTokens, to leave room for the
// answer); it is safe for concurrent use as long as they are not changed
// meanwhile.
type Processor struct {
	Tokenizer        *tokenizer.Tokenizer // the language model's
	QFormerTokenizer *tokenizer.Tokenizer
	Image            config.ImageProcessor
	NumQueryTokens   int
	ImageTokenID     int32
	// MaxTextTokens caps the language model's prompt ids (special tokens
	// included, image tokens not). Longer prompts lose tokens on the
	// tokenizer's truncation side (the left for Vicuna) and Process
	// reports a warning. Load sets it to the context left after the image
	// tokens: LLaMA's max_position_embeddings or the tokenizer's
	// model_max_length, whichever is smaller.
	MaxTextTokens int
	// MaxQFormerTokens caps the Q-Former's ids: its max_position_embeddings.
	MaxQFormerTokens int
	// PaddingSide pads the language model's batch: "left" (the default,
	// what generation with a decoder-only model needs and what the golden
	// fixtures use; the pads then sit between the image tokens and the
	// text) or "right". The Q-Former's ids are padded on its tokenizer's
	// side (right), as transformers does.
	PaddingSide string
}

// Inputs are the model inputs for a batch, rows in the order given.
type Inputs struct {
	InputIDs             [][]int32
	AttentionMask        [][]int32 // 1 on tokens, 0 on padding
	QFormerInputIDs      [][]int32
	QFormerAttentionMask [][]int32
	// PixelValues is [Batch, 3, Height, Width], row-major.
	PixelValues          []float32
	Batch, Height, Width int
	// Warnings are messages for the user, such as a prompt that was
	// truncated to fit the model.
	Warnings []string
}

// Load reads a model folder's tokenizers and processor settings.
func Load(modelDir string) (*Processor, error) {
	m, err := config.Load(modelDir)
	if err != nil {
		return nil, err
	}
	pc, err := config.LoadProcessor(modelDir, m)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.Load(modelDir)
	if err != nil {
		return nil, fmt.Errorf("the language model's tokenizer: %w", err)
	}
	qdir := filepath.Join(modelDir, QFormerTokenizerDir)
	if _, err := os.Stat(qdir); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no %s/ folder (the Q-Former's tokenizer)", config.ErrMissing, modelDir, QFormerTokenizerDir)
	}
	qtok, err := tokenizer.Load(qdir)
	if err != nil {
		return nil, fmt.Errorf("the Q-Former's tokenizer: %w", err)
	}
	p := &Processor{Tokenizer: tok, QFormerTokenizer: qtok, Image: pc.Image, NumQueryTokens: pc.NumQueryTokens,
		MaxQFormerTokens: m.QFormer.MaxPositionEmbeddings, PaddingSide: "left"}
	// The processor tokenizes "<image>"; config.json's image_token_index
	// names the same id in current checkpoints and is the fallback.
	if id, ok := tok.TokenID(ImageToken); ok {
		p.ImageTokenID = id
	} else if m.HasImageTokenIndex {
		p.ImageTokenID = int32(m.ImageTokenIndex)
	} else {
		return nil, fmt.Errorf("%s: the tokenizer has no %s token and config.json no image_token_index; this model folder predates the processor format Glimpse supports", modelDir, ImageToken)
	}
	if m.HasImageTokenIndex && int32(m.ImageTokenIndex) != p.ImageTokenID {
		return nil, fmt.Errorf("%s: config.json's image_token_index %d is not the tokenizer's %s id %d", modelDir, m.ImageTokenIndex, ImageToken, p.ImageTokenID)
	}
	context := tok.ModelMaxLength()
	if n := m.Text.Language.ContextLength(); n > 0 {
		context = min(context, n)
	}
	p.MaxTextTokens = context - p.NumQueryTokens
	if context == math.MaxInt32 {
		p.MaxTextTokens = context
	}
	if p.MaxTextTokens <= tok.NumSpecialToAdd() {
		return nil, fmt.Errorf("%s: a %d-token context leaves no room for a prompt after %d image tokens", modelDir, context, p.NumQueryTokens)
	}
	return p, nil
}

// Process builds the inputs for one image per prompt. Images may be any
// image.Image; an *imageproc.RGB from imageproc.Decode keeps its
// libjpeg-exact colours and applied EXIF orientation.
func (p *Processor) Process(images []image.Image, prompts []string) (*Inputs, error) {
	if len(prompts) == 0 {
		return nil, errors.New("no prompt to process")
	}
	if len(images) != len(prompts) {
		return nil, fmt.Errorf("%d images for %d prompts: each prompt needs one image", len(images), len(prompts))
	}
	in := &Inputs{Batch: len(prompts), Height: p.Image.Height, Width: p.Image.Width}
	plane := 3 * p.Image.Height * p.Image.Width
	in.PixelValues = make([]float32, 0, len(images)*plane)
	for i, img := range images {
		if img == nil {
			return nil, fmt.Errorf("image %d is missing", i+1)
		}
		px, err := imageproc.Preprocess(img, p.Image)
		if err != nil {
			return nil, fmt.Errorf("image %d: %w", i+1, err)
		}
		if len(px) != plane {
			panic(fmt.Sprintf("processor: image %d gave %d values, want 3×%d×%d", i+1, len(px), p.Image.Height, p.Image.Width))
		}
		in.PixelValues = append(in.PixelValues, px...)
	}
	for i, text := range prompts {
		if n := len(p.Tokenizer.Encode(text, true).IDs); n > p.MaxTextTokens {
			in.Warnings = append(in.Warnings, fmt.Sprintf("prompt %d is %d tokens long; the model takes %d, so %d tokens were cut from its %s",
				i+1, n, p.MaxTextTokens, n-p.MaxTextTokens, sideWord(p.Tokenizer.TruncationSide())))
		}
		if n := len(p.QFormerTokenizer.Encode(text, true).IDs); n > p.MaxQFormerTokens {
			in.Warnings = append(in.Warnings, fmt.Sprintf("prompt %d is %d tokens long for the Q-Former, which takes %d; %d tokens were cut from its %s",
				i+1, n, p.MaxQFormerTokens, n-p.MaxQFormerTokens, sideWord(p.QFormerTokenizer.TruncationSide())))
		}
	}
	side := p.PaddingSide
	if side == "" {
		side = "left"
	}
	ids, mask := p.Tokenizer.EncodeBatch(prompts, tokenizer.BatchOptions{MaxLength: p.MaxTextTokens, PadSide: side})
	// The image tokens go before everything, padding included: transformers
	// tokenizes them separately, unpadded, and prepends them to each row.
	for i := range ids {
		row := make([]int32, 0, p.NumQueryTokens+len(ids[i]))
		rowMask := make([]int32, 0, cap(row))
		for k := 0; k < p.NumQueryTokens; k++ {
			row = append(row, p.ImageTokenID)
			rowMask = append(rowMask, 1)
		}
		in.InputIDs = append(in.InputIDs, append(row, ids[i]...))
		in.AttentionMask = append(in.AttentionMask, append(rowMask, mask[i]...))
	}
	in.QFormerInputIDs, in.QFormerAttentionMask = p.QFormerTokenizer.EncodeBatch(prompts, tokenizer.BatchOptions{MaxLength: p.MaxQFormerTokens})
	return in, nil
}

// ProcessFiles decodes image files with imageproc.DecodeFile (EXIF
// orientation applied) and processes them with their prompts.
func (p *Processor) ProcessFiles(paths []string, prompts []string) (*Inputs, error) {
	images := make([]image.Image, len(paths))
	for i, path := range paths {
		img, _, err := imageproc.DecodeFile(path)
		if err != nil {
			return nil, err
		}
		images[i] = img
	}
	return p.Process(images, prompts)
}

func sideWord(side string) string {
	if side == "left" {
		return "start"
	}
	return "end"
}
