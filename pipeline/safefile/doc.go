// Package safefile reads the files a dataset or a command line names, images and annotations alike,
// in a way that a hostile or mistaken path cannot turn into a hang or an out-of-memory crash: only a
// regular file (after symbolic links are followed) is read, never more than a size limit, and a
// cancelled context stops the read between chunks.
//
// A plain os.ReadFile of /dev/zero never ends and grows its buffer until the process dies; an open(2)
// of a named pipe blocks until a writer appears, and a goroutine stuck there ignores the context
// that SIGTERM cancels. Read checks the file's type with stat(2) before opening it, opens it with
// O_NONBLOCK (so that a file swapped for a pipe after the check still cannot block the open), and
// checks the type again on the open descriptor.
package safefile
