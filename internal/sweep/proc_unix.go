//go:build unix

package sweep

import (
	"os"
	"os/exec"
	"syscall"
)

// ownProcessGroup puts the child in a process group of its own, so that a terminal's Ctrl-C reaches
// only the sweep, which forwards one SIGINT to each child (a second one could make a trainer quit
// without its checkpoint).
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// interrupt asks a child to stop as Ctrl-C does.
func interrupt(p *os.Process) error {
	return p.Signal(os.Interrupt)
}
