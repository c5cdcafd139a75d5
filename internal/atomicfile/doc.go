// Package atomicfile writes a file so that a reader, or a crash, sees either the old contents or the
// new ones, never a part: the data go to a temporary file beside the target (".tmp-<name>-*"), which
// is synced, made readable by everyone (0644) and renamed over the target, and the directory is synced.
package atomicfile
