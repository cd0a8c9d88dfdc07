package main

import "glimpse/ui"

// The desktop app: `glimpse` with no arguments. GLIMPSE_MODEL (an installed
// model's name or a model folder) and GLIMPSE_BACKEND (auto, gl, cpu)
// override the app's settings for one run.
func init() {
	openApp = func() int { return ui.Run(ui.OptionsFromEnv(version)) }
}
