package defense

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExamplePolicyFile(t *testing.T) {
	data, err := os.ReadFile("../examples/quarantine/policy.yaml")
	require.NoError(t, err)
	p, err := ParsePolicyFile(data)
	require.NoError(t, err)
	assert.Equal(t, "remediate", p.Name)
	assert.Len(t, p.Filters, 10)
	assert.Len(t, p.Flows, 6)
	assert.True(t, p.TxDefaultDrop)
	assert.True(t, p.RxDefaultCount)
	assert.Equal(t, Ethernet, p.Filters[0].Kind)
	assert.Equal(t, EtherARP, p.Filters[0].EtherType)
	assert.Equal(t, &PortRange{80, 443}, p.Filters[8].DstPorts)
	assert.True(t, p.Filters[6].Statistics)
	r := Check(p, p.Flows)
	assert.True(t, r.OK(), r.String())
}

func lineOf(t *testing.T, src string) (int, string) {
	t.Helper()
	_, err := ParsePolicyFile([]byte(src))
	require.Error(t, err)
	var fe *FileError
	require.True(t, errors.As(err, &fe), "%T %v", err, err)
	return fe.Line, fe.Msg
}

func TestPolicyFileErrorsGiveTheLine(t *testing.T) {
	head := "name: p\nfilters:\n"
	cases := []struct {
		src  string
		line int
		msg  string
	}{
		{"name: p\ncolour: red\n", 2, `unknown key "colour"`},
		{"name: a-very-long-policy-name\n", 1, "longer than 16"},
		{head + "  - {name: x, direction: tx, action: pass, dst: 10.0.0.300}\n", 3, "not an IP address"},
		{head + "  - name: x\n    direction: tx\n    action: pass\n    protocol: tcp\n    dst_ports: 70000\n", 7, "out of range"},
		{head + "  - name: seventeen-chars-xx\n    direction: tx\n    action: pass\n", 3, "longer than 16"},
		{head + "  - {name: x, direction: up, action: pass}\n", 3, "direction"},
		{head + "  - {name: x, direction: tx, action: pass, colour: red}\n", 3, `unknown key "colour" in filter`},
		{head + "  - {name: x, direction: tx, action: pass}\n  - {name: x, direction: rx, action: pass}\n", 4, "also used at line 3"},
		{head + "  - {name: x, direction: tx, action: pass, dst_ports: 80}\n", 3, "ports need protocol"},
		{head + "  - {name: x, direction: tx, action: rate-limit}\n", 3, "rate"},
		{head + "  - {name: x, direction: tx}\n", 3, `needs "action"`},
		{head + "  - {name: x, direction: tx, action: pass, ether_type: arp}\n", 3, "type: ethernet"},
		{"name: p\nname: q\n", 2, "given twice"},
		{"precedence: 1\n", 1, `needs "name"`},
		{"name: p\nprecedence: -1\n", 2, "whole number"},
		{"name: p\nrequire:\n  - 10.0.0.1:99999\n", 3, "out of range"},
		{"name: p\nrequire:\n  - 10.0.0.1\n", 3, "which protocol"},
		{"name: p\ndefaults:\n  tx: {action: maybe}\n", 3, "not pass or drop"},
		{"name: &a p\n", 1, "aliases"},
		{"name: p\n  bad: [\n", 2, ""},
		{"name: p\n---\nname: q\n", 2, "second YAML document"},
		{"- a\n- b\n", 1, "mapping"},
	}
	for _, c := range cases {
		line, msg := lineOf(t, c.src)
		assert.Equal(t, c.line, line, c.src)
		assert.Contains(t, msg, c.msg, c.src)
	}
	_, err := ParsePolicyFile(nil)
	assert.Error(t, err)
	_, err = ParsePolicyFile([]byte(strings.Repeat("#", MaxFileSize+1)))
	assert.Error(t, err)
}

func TestParseFlows(t *testing.T) {
	for in, want := range map[string][]string{
		"arp":                   {"arp"},
		"dhcp":                  {"udp host:68 -> any:67"},
		"ping":                  {"icmp any -> host"},
		"ping:10.0.0.9":         {"icmp 10.0.0.9 -> host"},
		"10.0.0.5:443":          {"tcp host -> 10.0.0.5:443"},
		"10.0.0.5:80,443/tcp":   {"tcp host -> 10.0.0.5:80", "tcp host -> 10.0.0.5:443"},
		"any:53/udp":            {"udp host -> any:53"},
		"10.0.0.0/24/icmp":      {"icmp host -> 10.0.0.0/24"},
		"from:10.0.0.9:3389":    {"tcp 10.0.0.9 -> host:3389"},
		"[2001:db8::1]:443/tcp": {"tcp host -> 2001:db8::1:443"},
	} {
		fl, err := ParseFlows(in)
		require.NoError(t, err, in)
		var got []string
		for _, f := range fl {
			got = append(got, f.describe())
		}
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "10.0.0.5", "10.0.0.5:443/icmp", "nothing", "10.0.0.5:0-70000/udp"} {
		_, err := ParseFlows(bad)
		assert.Error(t, err, bad)
	}
}
