// Package cli is the process setup the commands share: the environment TensorFlow reads when it loads
// or runs its first op. Library packages never change process-wide state, so what needs the process's
// environment happens here, first thing in a command's main or before its first session.
package cli
