//go:build race

package statedb_test

const raceEnabled = true
