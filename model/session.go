package model

import (
	"context"
	"errors"
	"fmt"

	"glimpse/compute"
)

// Session is a batch of prompts primed in the language model, stepping
// its live sequences forward for the generation loop. It implements
// generate's Session interface. Sequences start as one per prompt;
// Reorder selects, duplicates or drops them (beam search). A Session is
// not safe for concurrent use; it must be closed.
type Session struct {
	model *Model
	in    Inputs

	ctx   compute.Context // long-lived: the decoding state's KV cache and encoder output
	state decoding
	rows  []int     // per live sequence: the prompt (batch row) it continues
	sel   *selector // device token selection (select.go); nil without

	prefilled, closed bool

	positions, sequences int // Reserve's sizes, 0 when not told
}

// ErrSession reports a session used out of order or with invalid tokens.
var ErrSession = errors.New("invalid use of a generation session")

// NewSession prepares a session for a batch of prompts; Prefill runs them.
func (m *Model) NewSession(in *Inputs) (*Session, error) {
	if m.weights == nil {
		return nil, fmt.Errorf("%w: the model is closed", ErrSession)
	}
	if err := m.validate(in); err != nil {
		return nil, err
	}
	return &Session{model: m, in: *in}, nil
}

// initialCapacity is how many positions a fresh cache holds beyond the
// prompt before it first grows, when Reserve was not called.
const initialCapacity = 64

// Reserve sizes the session's KV cache, before Prefill, for the whole
// request: sequences reach at most positions positions, prompt included
// (for T5: decoder positions, the start token included), and at most
// sequences of them are live at once (prompts × beams). The cache is then
// allocated once; without Reserve it starts small and grows by copying.
func (s *Session) Reserve(positions, sequences int) error {
	if s.prefilled || s.closed {
		return fmt.Errorf("%w: Reserve after Prefill or Close", ErrSession)
	}
	if positions < 1 || sequences < 1 {
		return fmt.Errorf("%w: Reserve of %d positions for %d sequences", ErrSession, positions, sequences)
	}
	s.positions, s.sequences = positions, sequences
	return nil
}

// Prefill runs the image side and the prompts and returns, for each
// prompt, the logits [vocab] of the next token: LLaMA's at the last prompt
// position, T5's for the decoder start token after encoding the prompt.
func (s *Session) Prefill(ctx context.Context) ([][]float32, error) {
	if s.closed || s.prefilled {
		return nil, fmt.Errorf("%w: Prefill on a session that is closed or already prefilled", ErrSession)
	}
	m := s.model
	g := m.backend.NewContext()
	defer g.Close()
	p := m.embedPrompt(g, &s.in, nil)
	p.positions, p.sequences, p.kvDType = s.positions, s.sequences, m.kvDType()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.ctx = m.backend.NewContext()
	s.rows = make([]int, p.embeds.Shape()[0])
	for i := range s.rows {
		s.rows[i] = i
	}
	s.prefilled = true
	state, logits, err := m.Language.prefill(ctx, g, s.ctx, p)
	if err != nil {
		return nil, err
	}
	s.state = state
	return s.readLogits(ctx, g, logits)
}

// readLogits reads logits [n, vocab] into one slice per sequence.
func (s *Session) readLogits(ctx context.Context, g compute.Context, logits compute.Tensor) ([][]float32, error) {
	data := g.Read(logits)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v := logits.Shape()[len(logits.Shape())-1]
	out := make([][]float32, len(data)/v)
	for i := range out {
		out[i] = data[i*v : (i+1)*v : (i+1)*v]
	}
	return out, nil
}

// Step appends tokens[i] to live sequence i and returns each sequence's
// logits [vocab] for the next position.
func (s *Session) Step(ctx context.Context, tokens []int32) ([][]float32, error) {
	if !s.prefilled || s.closed || s.state == nil {
		return nil, fmt.Errorf("%w: Step before Prefill or after Close", ErrSession)
	}
	if len(tokens) != len(s.rows) {
		return nil, fmt.Errorf("%w: %d tokens for %d live sequences", ErrSession, len(tokens), len(s.rows))
	}
	vocab := s.model.VocabSize()
	for _, t := range tokens {
		if t < 0 || int(t) >= vocab {
			return nil, fmt.Errorf("%w: token %d is outside the vocabulary of %d", ErrSession, t, vocab)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	g := s.model.backend.NewContext()
	defer g.Close()
	return s.readLogits(ctx, g, s.state.step(g, tokens))
}

// Reorder makes the live sequences idx[0], idx[1], … of the current ones;
// idx may repeat entries and change their number.
func (s *Session) Reorder(idx []int32) error {
	if !s.prefilled || s.closed || s.state == nil {
		return fmt.Errorf("%w: Reorder before Prefill or after Close", ErrSession)
	}
	if len(idx) == 0 {
		return fmt.Errorf("%w: Reorder to no sequences", ErrSession)
	}
	for _, j := range idx {
		if j < 0 || int(j) >= len(s.rows) {
			return fmt.Errorf("%w: Reorder index %d with %d live sequences", ErrSession, j, len(s.rows))
		}
	}
	if isIdentity(idx, len(s.rows)) {
		return nil
	}
	rows := make([]int, len(idx))
	for i, j := range idx {
		rows[i] = s.rows[j]
	}
	s.rows = rows
	s.state.reorder(idx, rows)
	return nil
}

// Close frees the session's device memory. It is safe to call twice.
func (s *Session) Close() {
	if s.closed {
		return
	}
	s.closed = true
	if s.ctx != nil {
		s.ctx.Close()
	}
	s.state = nil
}

// Live is the number of live sequences.
func (s *Session) Live() int { return len(s.rows) }
