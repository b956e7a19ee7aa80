package main

import (
	"testing"

	"github.com/reftrail/reftrail/internal/dev/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }
