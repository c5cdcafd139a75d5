//go:build !unix

package sweep

import (
	"os"
	"os/exec"
)

func ownProcessGroup(*exec.Cmd) {}

// interrupt stops a child; without POSIX signals it is killed (the run restarts from its last
// checkpoint).
func interrupt(p *os.Process) error {
	return p.Kill()
}
