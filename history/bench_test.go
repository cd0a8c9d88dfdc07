package history

import (
	"fmt"
	"testing"
)

// BenchmarkAppend measures one durable append (a transaction synced to
// disk), the cost every answer pays when it is saved.
func BenchmarkAppend(b *testing.B) {
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c, err := s.Create(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		if _, err := s.Append(ctx, c.ID, Message{Role: RoleAssistant, Text: fmt.Sprintf("answer number %d about a cat", i)}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSearch measures a two-word search over 2000 conversations.
func BenchmarkSearch(b *testing.B) {
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	words := []string{"cat", "dog", "red", "car", "tree", "sky", "boat", "house"}
	for i := range 2000 {
		text := fmt.Sprintf("a %s next to a %s, picture %d", words[i%len(words)], words[(i/len(words))%len(words)], i)
		if _, err := s.SaveExchange(ctx, Exchange{Prompt: "what is this?", Answer: text}); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if _, err := s.Search(ctx, "red car", 20); err != nil {
			b.Fatal(err)
		}
	}
}
