package amtsim

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestClassIndexComplete(t *testing.T) {
	t.Parallel()
	assert.Len(t, classesByName, len(classTable))
	for _, c := range classTable {
		assert.Same(t, c, classesByName[c.name], c.name)
	}
}
