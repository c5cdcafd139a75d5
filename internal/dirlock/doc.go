// Package dirlock gives one process at a time the right to write a directory: a training run's
// directory, or the output of an export. The lock is an advisory flock(2) on a small file that also
// records the holder's pid and command line, so that a second process is told who holds it.
//
// The kernel releases a flock when its holder exits, however it exits, so a lock file left behind by a
// killed process is never trusted: it is recognised as stale (its pid is no longer running, or no process
// holds the flock) and taken over, and Acquire says so through Lock.Stale.
package dirlock
