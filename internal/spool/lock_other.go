//go:build !unix

package spool

import (
	"errors"
	"os"
)

func lockDir(string) (*os.File, error) {
	return nil, errors.New("the spool needs a Unix system (flock)")
}
