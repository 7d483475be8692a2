package amtsim

import (
	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"

	"strconv"
)

func paramText(input *soap.Node, ns, name string) (string, bool) {
	v := input.Child(ns, name)
	if v == nil {
		return "", false
	}
	return v.Value(), true
}

func u32Param(input *soap.Node, ns, name string) (uint64, bool) {
	v, ok := paramText(input, ns, name)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 32)
	return n, err == nil
}
