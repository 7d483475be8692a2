package main

import (
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shellWords splits a command line as sh does for the simple lines of the
// README: quotes, $VARIABLES (given a value), and no operators after the
// first | or #.
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	quote := byte(0)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
				continue
			}
			cur.WriteByte(c)
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '#' || c == '|' || c == '>' || c == ';' || c == '&':
			if inWord {
				words = append(words, cur.String())
			}
			return words
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// TestREADMECommands checks that every amtctl command line in README.md
// names commands and flags that exist, with valid values, as amtctl would
// parse them; and that the Go version the README names is the one go.mod
// needs.
func TestREADMECommands(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	gomod, err := os.ReadFile("../../go.mod")
	require.NoError(t, err)

	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	require.NotNil(t, goLine)
	assert.Contains(t, string(readme), "With Go "+string(goLine[1])+" or later", "the README names the Go version go.mod needs")

	vars := strings.NewReplacer(`$PIN`, strings.Repeat("ab", 32), `$PW`, "pw", `$AMT_PASSWORD`, "pw")
	n := 0
	for _, line := range strings.Split(string(readme), "\n") {
		i := strings.Index(line, "go run ./cmd/amtctl")
		if i < 0 || strings.Contains(line, "`go run ./cmd/amtctl") {
			continue
		}
		words := shellWords(vars.Replace(line[i+len("go run ./cmd/amtctl"):]))
		n++
		root := newRootCommand(io.Discard, io.Discard)
		root.InitDefaultHelpCmd()
		root.InitDefaultCompletionCmd()
		cmd, rest, err := root.Find(words)
		require.NoError(t, err, "%s", line)
		require.NoError(t, cmd.ParseFlags(rest), "%s", line)
		assert.True(t, cmd.Runnable(), "%s: a command that runs", line)
		if cmd.Args != nil {
			assert.NoError(t, cmd.Args(cmd, cmd.Flags().Args()), "%s", line)
		}
		for _, name := range []string{"password", "p"} {
			assert.NotContains(t, words, "--"+name, "%s: no password on the command line", line)
		}
	}
	assert.Greater(t, n, 20, "the README's amtctl lines were found")
}
