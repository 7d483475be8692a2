package defense

import (
	"os"
	"testing"
)

// FuzzParsePolicyFile: any input parses to a valid policy or a *FileError,
// never a panic; what parses passes Validate and can be checked.
func FuzzParsePolicyFile(f *testing.F) {
	if data, err := os.ReadFile("../examples/quarantine/policy.yaml"); err == nil {
		f.Add(data)
	}
	for _, s := range []string{
		"name: p\n",
		"name: p\nfilters:\n  - {name: x, direction: tx, action: rate-limit, rate_pps: 5, src: 10.0.0.0/8}\n",
		"name: p\nfilters:\n  - {name: e, type: ethernet, direction: rx, action: drop, ether_type: 0x86dd, src_mac: 00:11:22:33:44:55, src_mac_mask: ff:ff:ff:00:00:00, vlan: 7, priority: 3}\n",
		"name: p\nrequire: [arp, dhcp, 'from:10.0.0.1:22', 'any:53/udp', 'ping:2001:db8::1']\n",
		"name: p\nfilters:\n  - {name: v6, direction: tx, action: pass, src: 2001:db8::1-2001:db8::9, flow_label: 5, dscp: [1, 2]}\n",
		"a: &x [*x]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicyFile(data)
		if err != nil {
			if _, ok := err.(*FileError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("parsed policy fails validation: %v", err)
		}
		_ = Check(p, p.Flows).String()
	})
}
