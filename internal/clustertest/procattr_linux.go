package clustertest

import (
	"os/exec"
	"syscall"
)

// setProcAttr has the kernel kill a child when the test process dies
// (a panic, a timeout, ^C), so that no node or balancer outlives it.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
