package wsman

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/amtkit/amtkit/internal/recordings"
)

// FuzzParseMessage feeds arbitrary bytes to the envelope decoder and every
// body accessor: none may panic or hang, whatever the input.
func FuzzParseMessage(f *testing.F) {
	f.Add([]byte(faultEnvelope("e:AccessDenied", "AMT-STATUS 16")))
	f.Add([]byte(`<a:Envelope xmlns:a="http://www.w3.org/2003/05/soap-envelope" xmlns:g="` + NSEnumeration + `"><a:Body><g:PullResponse><g:Items><h:X xmlns:h="urn:x"><h:P>1</h:P></h:X></g:Items><g:EndOfSequence/></g:PullResponse></a:Body></a:Envelope>`))
	f.Add([]byte(`<a:Envelope xmlns:a="http://www.w3.org/2003/05/soap-envelope" xmlns:b="` + NSIdentity + `"><a:Body><b:IdentifyResponse><b:ProductVendor>Intel(r)</b:ProductVendor></b:IdentifyResponse></a:Body></a:Envelope>`))
	if dir, ok := recordings.Find(); ok {
		for _, rel := range []string{
			"AMT_GeneralSettings/GetResponse__gwm__1.resp.xml",
			"CIM_SoftwareIdentity/PullResponse__gwm__1.resp.xml",
			"CIM_ComputerSystemPackage/GetResponse__gwm__1.resp.xml",
			"AMT_EthernetPortSettings/PullResponse__gwm__1.resp.xml",
			"Fault/DestinationUnreachable__gwm__1.resp.xml",
		} {
			if b, err := os.ReadFile(filepath.Join(dir, rel)); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := ParseMessage(data)
		if err != nil {
			return
		}
		if fl := msg.Fault(); fl != nil {
			_ = fl.Error()
		}
		if in, err := msg.Instance(); err == nil {
			for _, p := range in.Properties {
				_, _ = in.Uint(p.Name)
				_, _ = in.Bool(p.Name)
				_ = in.Values(p.Name)
				_, _ = in.Ref(p.Name)
			}
			_ = in.Clone()
		}
		_, _ = msg.Pull()
		_, _ = msg.EnumerationContext()
		_, _ = msg.Identity()
		_, _ = msg.ResourceCreated()
	})
}
