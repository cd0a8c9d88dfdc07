package app

import (
	"context"
	"fmt"
	"os"

	"glimpse/generate"
	"glimpse/history"
)

// OpenHistory opens the conversation history. dataFolder is the data
// folder chosen in the app's settings, or "" for the default (GLIMPSE_HOME,
// else the user's data folder). A chosen folder is applied by setting
// GLIMPSE_HOME for this process, so that everything else that keeps data
// finds it too, unless GLIMPSE_HOME is already set: a person or a test that
// set it wins.
//
// When the chosen folder cannot be used (an unplugged disk, say), the
// history opens in the default folder instead, and unusable says why, for
// the front end to tell the user rather than not start at all.
func OpenHistory(dataFolder string) (store *history.Store, unusable error, err error) {
	applied := dataFolder != "" && os.Getenv(history.EnvHome) == ""
	if applied {
		os.Setenv(history.EnvHome, dataFolder)
	}
	store, err = history.OpenDefault()
	if err != nil && applied {
		unusable = err
		os.Unsetenv(history.EnvHome)
		store, err = history.OpenDefault()
	}
	if err != nil {
		return nil, unusable, fmt.Errorf("cannot open the history: %w", err)
	}
	return store, unusable, nil
}

// Exchange is an answered question as the history records it.
type Exchange struct {
	Prompt string
	Image  *Image          // the image asked about, with its file's bytes
	Config generate.Config // the generation settings it was asked with
	Model  Description     // the model that answered
	Result *Result         // the answer is Answers[0]
}

// Record saves ex in the history: as a new conversation when conv is 0,
// else as the next question and answer of conversation conv. It returns the
// conversation's id. Both front ends record through it, so every answer
// carries the same facts: model and revision, the settings in the one
// shape of SettingsRecord, the timings and the token counts.
func Record(ctx context.Context, store *history.Store, conv int64, ex Exchange) (int64, error) {
	if ex.Result == nil || len(ex.Result.Answers) == 0 || ex.Image == nil {
		panic("app: Record needs an image and an answer")
	}
	settings, err := SettingsRecord(ex.Config, ex.Model)
	if err != nil {
		return 0, err
	}
	a := ex.Result.Answers[0]
	answer := history.Message{Role: history.RoleAssistant, Text: a.Text, Model: ex.Model.Name,
		Revision: ex.Model.Revision, Settings: settings, Timings: historyTimings(ex.Result.Timings),
		PromptTokens: a.PromptTokens, OutputTokens: a.NewTokens}
	img := history.Image{Name: ex.Image.Name, Data: ex.Image.Data}
	if conv == 0 {
		c, err := store.SaveExchange(ctx, history.Exchange{Prompt: ex.Prompt, Images: []history.Image{img},
			Answer: answer.Text, Model: answer.Model, Revision: answer.Revision, Settings: answer.Settings,
			Timings: answer.Timings, PromptTokens: answer.PromptTokens, OutputTokens: answer.OutputTokens})
		return c.ID, err
	}
	if _, err := store.Append(ctx, conv, history.Message{Role: history.RoleUser, Text: ex.Prompt}, img); err != nil {
		return 0, err
	}
	if _, err := store.Append(ctx, conv, answer); err != nil {
		return 0, err
	}
	return conv, nil
}

// historyTimings maps the pipeline's timings onto the history's. The
// pipeline times the image encoder and the Q-Former together with the
// prompt, so the history's Vision stays 0 and its Prefill holds all the time
// to the first token, preprocessing included: the record's total is the
// answer's whole time.
func historyTimings(t Timings) history.Timings {
	return history.Timings{Prefill: t.Preprocess + t.Prefill, Decode: t.Decode}
}
