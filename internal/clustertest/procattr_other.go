//go:build !linux

package clustertest

import "os/exec"

// setProcAttr does nothing here: the cleanups of the test stop the
// children.
func setProcAttr(cmd *exec.Cmd) {}
