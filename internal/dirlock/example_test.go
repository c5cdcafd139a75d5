//go:build unix

package dirlock_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/finegrain/finegrain/internal/dirlock"
)

func ExampleAcquire() {
	dir, _ := os.MkdirTemp("", "run-")
	defer os.RemoveAll(dir)
	lock, err := dirlock.Acquire(filepath.Join(dir, ".lock"))
	if err != nil {
		fmt.Println(err) // names the holder's pid and command line
		return
	}
	defer lock.Release()
	_, err = dirlock.Acquire(filepath.Join(dir, ".lock"))
	fmt.Println(err != nil)
	// Output: true
}
