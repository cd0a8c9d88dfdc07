package cli

import (
	"flag"
	"fmt"
	"path/filepath"

	"glimpse/checkpoint/config"
	"glimpse/checkpoint/safetensors"
	"glimpse/input/imageproc"
	"glimpse/internal/outfile"
)

var preprocessCmd = &Command{
	Name:      "preprocess",
	UsageLine: "preprocess --model DIR --image FILE --out FILE.safetensors",
	Short:     "write an image's pixel values, as the model sees them, to a safetensors file",
	Long: "Decodes the image (EXIF orientation applied), resizes, rescales and normalizes it as\n" +
		"transformers' InstructBLIP processor does, and writes the result.\n\n",
	Run: runPreprocess,
}

// runPreprocess serves debugging the image side against transformers: it
// works on a model folder's processor settings alone, without loading a
// model, so it uses the input packages directly rather than app.
func runPreprocess(env *Env, fs *flag.FlagSet, args []string) int {
	stdout, stderr := env.Stdout, env.Stderr
	model := fs.String("model", "", "model folder (its processor_config.json or preprocessor_config.json gives size, mean and std)")
	imagePath := fs.String("image", "", "image file (PNG, JPEG, GIF, WebP, BMP or TIFF)")
	out := fs.String("out", "", "safetensors file to write, or - for standard output; it holds \"pixel_values\", [1,3,H,W] float32")
	if code, ok := parse(fs, args, required("model", "image", "out"), noArgs); !ok {
		return code
	}
	toStdout := *out == "-"
	if toStdout && isTerminal(stdout) {
		return fail(stderr, "--out - would write binary safetensors data to the terminal: redirect standard output to a file")
	}
	// Refuse a device, a pipe or a link before any work.
	if !toStdout {
		if err := outfile.Check(*out); err != nil {
			return fail(stderr, "%v", err)
		}
	}
	ctx, stop := interruptible()
	defer stop()
	m, err := config.Load(*model)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	p, err := config.LoadProcessor(*model, m)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	img, format, err := imageproc.DecodeFileContext(ctx, *imagePath)
	if ctx.Err() != nil {
		return stopped(stderr)
	}
	if err != nil {
		return fail(stderr, "%v", err)
	}
	px, err := imageproc.Preprocess(img, p.Image)
	if err != nil {
		return fail(stderr, "%s: %v", *imagePath, err)
	}
	shape := []int{1, 3, p.Image.Height, p.Image.Width}
	meta := map[string]string{
		"image":  filepath.Base(*imagePath),
		"format": format,
		"size":   fmt.Sprintf("%dx%d", img.Width, img.Height),
	}
	data, err := safetensors.Encode(map[string]safetensors.Tensor{"pixel_values": safetensors.FromFloat32(shape, px)}, meta)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	// The summary goes where it does not mix with the data.
	report := stdout
	if toStdout {
		report = stderr
		_, err = stdout.Write(data)
	} else {
		err = outfile.WriteFile(*out, data)
	}
	if err != nil {
		return fail(stderr, "%v", err)
	}
	fmt.Fprintf(report, "pixel_values %v from %s (%s, %d×%d upright) written to %s\n", shape, *imagePath, format, img.Width, img.Height, *out)
	return 0
}
