// Package childproc starts child processes that do not outlive their parent
// where the operating system can promise it: on Linux each child gets a
// parent-death signal (SIGTERM), so a devstack or test killed with SIGKILL
// leaves no ClickHouse or service running behind it. Elsewhere Start is
// exec.Cmd.Start, and the parent's own shutdown is the only guard.
package childproc

import "os/exec"

// Start starts cmd as cmd.Start does, adding the parent-death signal where the
// system has one. cmd.SysProcAttr, if set, is kept and extended.
func Start(cmd *exec.Cmd) error { return start(cmd) }

// Running reports whether the process pid exists and is not a zombie: an
// orphan that init has not reaped yet has ended all the same.
func Running(pid int) bool { return running(pid) }
