//go:build unix

package safefile

import "syscall"

// openFlags makes the open of a named pipe return at once instead of waiting for a writer.
const openFlags = syscall.O_NONBLOCK
