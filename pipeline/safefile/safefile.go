package safefile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ErrNotRegular is wrapped by the error for a path that is not a regular file: a directory, a named
// pipe, a device or a socket.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is wrapped by the error for a file larger than the limit given to Read.
var ErrTooLarge = errors.New("file too large")

// chunk is how much Read reads between two looks at the context.
const chunk = 1 << 20

// Kind names the type of a file mode for messages: "regular file", "directory", "named pipe",
// "character device", "block device", "socket", "symbolic link" or "irregular file".
func Kind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular file"
	case m&fs.ModeDir != 0:
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	}
	return "irregular file"
}

// Check returns the error Read gives for a file described by info (from a stat that follows
// symbolic links): nil for a regular file of at most limit bytes (limit <= 0: any size). Indexers
// use it to refuse a file before it is ever opened.
func Check(path string, info fs.FileInfo, limit int64) error {
	if !info.Mode().IsRegular() {
		return &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w (%s)", ErrNotRegular, Kind(info.Mode()))}
	}
	if limit > 0 && info.Size() > limit {
		return &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: %s, the limit is %s", ErrTooLarge, Size(info.Size()), Size(limit))}
	}
	return nil
}

// Stat is os.Stat (symbolic links followed) followed by Check.
func Stat(path string, limit int64) (fs.FileInfo, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	return info, Check(path, info, limit)
}

// Read returns the contents of the file at path. The file must be a regular file once symbolic
// links are followed, of at most limit bytes (limit <= 0: no limit, which only callers that bound
// the size otherwise should use). Errors are *fs.PathError naming path and wrapping ErrNotRegular,
// ErrTooLarge or the system's error, or the context's error once ctx is done.
func Read(ctx context.Context, path string, limit int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := Stat(path, limit); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readOpen(ctx, f, path, limit)
}

// ReadFS is Read for the file name of fsys; errors name name. Unlike Read it cannot open with
// O_NONBLOCK: it relies on the check of fs.Stat before the open.
func ReadFS(ctx context.Context, fsys fs.FS, name string, limit int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	info, err := fs.Stat(fsys, name)
	if err != nil {
		return nil, err
	}
	if err := Check(name, info, limit); err != nil {
		return nil, err
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readOpen(ctx, f, name, limit)
}

// readOpen checks the open file's type again (it may have been replaced since the stat) and reads it
// in chunks, looking at ctx between them and stopping past limit (the file may grow while read).
func readOpen(ctx context.Context, f fs.File, path string, limit int64) ([]byte, error) {
	info, err := f.Stat()
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	if err := Check(path, info, limit); err != nil {
		return nil, err
	}
	size := info.Size()
	buf := make([]byte, 0, size+1) // +1: the read that sees EOF needs no growth
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):min(cap(buf), len(buf)+chunk)])
		buf = buf[:len(buf)+n]
		if limit > 0 && int64(len(buf)) > limit {
			return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: more than %s (it grew while read)", ErrTooLarge, Size(limit))}
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
	}
}

// Size formats a byte count for messages: "512 MiB", "1.5 KiB", "300 bytes".
func Size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	v, suffix := float64(n), ""
	for _, s := range []string{"KiB", "MiB", "GiB", "TiB"} {
		v /= unit
		suffix = s
		if v < unit {
			break
		}
	}
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d %s", int64(v), suffix)
	}
	return fmt.Sprintf("%.1f %s", v, suffix)
}
