//go:build !linux

package main

// echoOff is left to term.ReadPassword where the terminal interface is
// not Linux's.
func echoOff(int) func() { return func() {} }
