// Command mkcheckpoint writes an InstructBLIP checkpoint with random weights
// at a catalogue model's real size, in the Hugging Face Hub's layout, for
// tests and benchmarks on machines that cannot download the real one
// (package glimpse/checkpoint/synthetic; docs/checkpoints.md).
//
//	go run ./scripts/mkcheckpoint --model vicuna-7b|vicuna-13b|flan-t5-xl|flan-t5-xxl --out DIR
//	    [--layers N] [--seed S] [--tokenizers DIR] [--shard-size 10GB] [--plan]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"glimpse/checkpoint/synthetic"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mkcheckpoint:", err)
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("mkcheckpoint", flag.ContinueOnError)
	model := fs.String("model", "", "the model whose config to copy: "+strings.Join(synthetic.Models(), ", "))
	out := fs.String("out", "", "the folder to write (new or empty)")
	layers := fs.Int("layers", 0, "cut every stack to at most N layers (0: the real depth)")
	seed := fs.Uint64("seed", 1, "random seed")
	tokenizers := fs.String("tokenizers", "", "tokenizer source folder made by scripts/fetch-tokenizers.sh (none: no tokenizer files)")
	shardSize := fs.String("shard-size", "10GB", "most bytes per shard file (e.g. 10GB, 64MB, 1000000)")
	planOnly := fs.Bool("plan", false, "print the shards and sizes, write nothing")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: mkcheckpoint --model NAME --out DIR [--layers N] [--seed S] [--tokenizers DIR] [--shard-size SIZE] [--plan]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	shardBytes, err := parseSize(*shardSize)
	if err != nil {
		return fmt.Errorf("--shard-size: %w", err)
	}
	opt := synthetic.Options{Model: *model, Layers: *layers, Seed: *seed, ShardBytes: shardBytes, Tokenizers: *tokenizers}
	if *model == "" || (*out == "" && !*planOnly) || fs.NArg() > 0 {
		fs.Usage()
		return flag.ErrHelp
	}
	if *planOnly {
		return printPlan(opt)
	}
	if *tokenizers == "" {
		fmt.Fprintln(os.Stderr, "mkcheckpoint: no --tokenizers: the folder gets weights and configs only, which Glimpse cannot load as a model")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start, last := time.Now(), time.Time{}
	opt.Progress = func(p synthetic.Progress) {
		if now := time.Now(); now.Sub(last) >= time.Second || p.Bytes == p.TotalBytes {
			last = now
			rate := float64(p.Bytes) / now.Sub(start).Seconds() / 1e6
			fmt.Fprintf(os.Stderr, "\rshard %d/%d  %.2f/%.2f GB  %.0f MB/s ", p.Shard, p.Shards,
				float64(p.Bytes)/1e9, float64(p.TotalBytes)/1e9, rate)
		}
	}
	if err := synthetic.Write(ctx, *out, opt); err != nil {
		fmt.Fprintln(os.Stderr)
		return err
	}
	fmt.Fprintf(os.Stderr, "\nwrote %s in %s\n", *out, time.Since(start).Round(time.Second))
	return nil
}

// printPlan lists each shard with its tensor count and size.
func printPlan(opt synthetic.Options) error {
	tensors, err := synthetic.Plan(opt)
	if err != nil {
		return err
	}
	var shards []string
	count, size := map[string]int{}, map[string]int64{}
	var total int64
	for _, t := range tensors {
		if count[t.Shard] == 0 {
			shards = append(shards, t.Shard)
		}
		count[t.Shard]++
		size[t.Shard] += t.Bytes()
		total += t.Bytes()
	}
	for _, s := range shards {
		fmt.Printf("%s  %5d tensors  %6.2f GB\n", s, count[s], float64(size[s])/1e9)
	}
	fmt.Printf("total  %d tensors  %.2f GB (%d parameters)\n", len(tensors), float64(total)/1e9, total/4)
	return nil
}

// parseSize reads a byte count with an optional decimal (KB, MB, GB) or
// binary (KiB, MiB, GiB) unit, as save_pretrained's max_shard_size does.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		factor int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	u := strings.ToUpper(strings.TrimSpace(s))
	factor := int64(1)
	for _, x := range units {
		if strings.HasSuffix(u, x.suffix) {
			u, factor = strings.TrimSpace(strings.TrimSuffix(u, x.suffix)), x.factor
			break
		}
	}
	n, err := strconv.ParseFloat(u, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a positive size", s)
	}
	return int64(n * float64(factor)), nil
}
