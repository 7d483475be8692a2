//go:build !unix

package amtsim

func fdLimit() uint64 { return 0 }
