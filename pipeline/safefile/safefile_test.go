package safefile

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"
)

// readWithin runs read and fails the test if it has not returned after d: a read that blocks (a
// named pipe opened without O_NONBLOCK) must show up as a failure, not as a hung test binary.
func readWithin(t *testing.T, d time.Duration, read func() ([]byte, error)) ([]byte, error) {
	t.Helper()
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := read()
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		return r.b, r.err
	case <-time.After(d):
		t.Fatalf("read still blocked after %v", d)
		return nil, nil
	}
}

// TestRead reads every kind of file an image path may name. Only regular files (symbolic links
// followed) within the limit are read; everything else is an error naming the path and the kind of
// file, returned at once.
func TestRead(t *testing.T) {
	dir := t.TempDir()
	content := bytes.Repeat([]byte("0123456789"), 300_000) // 3 MB: several chunks
	regular := filepath.Join(dir, "regular.jpg")
	if err := os.WriteFile(regular, content, 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.jpg")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "pipe.jpg")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "sparse.jpg") // 1 GiB without using the disk
	if f, err := os.Create(big); err != nil {
		t.Fatal(err)
	} else if err := f.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	} else {
		f.Close()
	}
	link := func(name, target string) string {
		p := filepath.Join(dir, name)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	subdir := filepath.Join(dir, "folder.jpg")
	if err := os.Mkdir(subdir, 0o755); err != nil {
		t.Fatal(err)
	}
	const limit = 8 << 20
	tests := []struct {
		name string
		path string
		want []byte // on success
		err  error  // errors.Is target; nil: success
		msg  string // in the error
	}{
		{"regular", regular, content, nil, ""},
		{"empty", empty, []byte{}, nil, ""},
		{"symlink to regular", link("link.jpg", regular), content, nil, ""},
		{"dev zero", "/dev/zero", nil, ErrNotRegular, "character device"},
		{"symlink to dev zero", link("zero.jpg", "/dev/zero"), nil, ErrNotRegular, "character device"},
		{"named pipe", fifo, nil, ErrNotRegular, "named pipe"},
		{"symlink to named pipe", link("pipelink.jpg", fifo), nil, ErrNotRegular, "named pipe"},
		{"directory", subdir, nil, ErrNotRegular, "directory"},
		{"over the limit", big, nil, ErrTooLarge, "1 GiB, the limit is 8 MiB"},
		{"missing", filepath.Join(dir, "missing.jpg"), nil, fs.ErrNotExist, "no such file"},
		{"broken symlink", link("broken.jpg", filepath.Join(dir, "gone")), nil, fs.ErrNotExist, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readWithin(t, 10*time.Second, func() ([]byte, error) { return Read(context.Background(), tt.path, limit) })
			if tt.err == nil {
				if err != nil || !bytes.Equal(got, tt.want) {
					t.Fatalf("got %d bytes, %v; want %d bytes", len(got), err, len(tt.want))
				}
				return
			}
			if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), tt.path) {
				t.Fatalf("error %v; want one wrapping %v, naming %s and saying %q", err, tt.err, tt.path, tt.msg)
			}
			var pe *fs.PathError
			if !errors.As(err, &pe) {
				t.Errorf("error %T, want *fs.PathError", err)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Read(ctx, regular, limit); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v, want context.Canceled", err)
	}
}

// TestReadFS: the fs.FS variant applies the same checks, on a real directory and in memory.
func TestReadFS(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "p.txt"), 0o644); err != nil {
		t.Fatal(err)
	}
	disk := os.DirFS(dir)
	mem := fstest.MapFS{"a.txt": {Data: []byte("hello")}, "big.txt": {Data: make([]byte, 100)}, "d": {Mode: fs.ModeDir}}
	tests := []struct {
		name  string
		fsys  fs.FS
		file  string
		limit int64
		err   error
	}{
		{"disk regular", disk, "a.txt", 10, nil},
		{"disk pipe", disk, "p.txt", 10, ErrNotRegular},
		{"memory regular", mem, "a.txt", 10, nil},
		{"memory over the limit", mem, "big.txt", 10, ErrTooLarge},
		{"memory directory", mem, "d", 10, ErrNotRegular},
		{"memory missing", mem, "x", 10, fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := readWithin(t, 10*time.Second, func() ([]byte, error) { return ReadFS(context.Background(), tt.fsys, tt.file, tt.limit) })
			if tt.err == nil && (err != nil || string(b) != "hello") {
				t.Fatalf("got %q, %v; want hello", b, err)
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
		})
	}
}

func TestSize(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{{0, "0 bytes"}, {1023, "1023 bytes"}, {1024, "1 KiB"}, {1536, "1.5 KiB"}, {512 << 20, "512 MiB"}, {3 << 30, "3 GiB"}} {
		if got := Size(tt.n); got != tt.want {
			t.Errorf("Size(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
