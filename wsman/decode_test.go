package wsman

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// faultEnvelope writes a fault the way AMT does, with prefixes assigned in
// its fault order.
func faultEnvelope(subcode, detail string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><a:Envelope xmlns:g="http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd" xmlns:f="http://schemas.xmlsoap.org/ws/2004/08/eventing" xmlns:e="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:d="http://schemas.xmlsoap.org/ws/2004/09/transfer" xmlns:c="http://schemas.xmlsoap.org/ws/2004/09/enumeration" xmlns:b="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:a="http://www.w3.org/2003/05/soap-envelope"><a:Header><b:To>` + AddressAnonymous + `</b:To><b:RelatesTo>1</b:RelatesTo><b:Action a:mustUnderstand="true">http://schemas.dmtf.org/wbem/wsman/1/wsman/fault</b:Action><b:MessageID>uuid:00000000-8086-8086-8086-000000000001</b:MessageID></a:Header><a:Body><a:Fault><a:Code><a:Value>a:Sender</a:Value><a:Subcode><a:Value>` + subcode + `</a:Value></a:Subcode></a:Code><a:Reason><a:Text xml:lang="en-US">reason text</a:Text></a:Reason><a:Detail>` + detail + `</a:Detail></a:Fault></a:Body></a:Envelope>`
}

func TestFaultMapping(t *testing.T) {
	cases := []struct {
		subcode string
		want    error
	}{
		{"b:DestinationUnreachable", ErrDestinationUnreachable},
		{"b:ActionNotSupported", ErrActionNotSupported},
		{"e:InvalidSelectors", ErrInvalidSelectors},
		{"e:AccessDenied", ErrAccessDenied},
		{"e:InternalError", ErrInternalError},
		{"e:SchemaValidationError", ErrSchemaValidation},
		{"d:InvalidRepresentation", ErrInvalidRepresentation},
		{"e:EncodingLimit", ErrEncodingLimit},
		{"e:TimedOut", ErrTimedOut},
		{"c:InvalidEnumerationContext", ErrInvalidEnumerationContext},
		{"e:InvalidParameter", ErrInvalidParameter},
		{"e:UnsupportedFeature", ErrUnsupportedFeature},
		{"e:AlreadyExists", ErrAlreadyExists},
		{"e:Concurrency", ErrConcurrency},
		{"e:QuotaLimit", ErrQuotaLimit},
		{"b:MessageInformationHeaderRequired", ErrMessageInformationHeaderMissing},
		{"b:InvalidMessageInformationHeader", ErrInvalidMessageInformationHeader},
		{"a:MustUnderstand", ErrMustUnderstand},
	}
	for _, tc := range cases {
		t.Run(tc.subcode, func(t *testing.T) {
			msg, err := ParseMessage([]byte(faultEnvelope(tc.subcode, "")))
			require.NoError(t, err)
			f := msg.Fault()
			require.NotNil(t, f)
			assert.ErrorIs(t, f, tc.want)
			for _, c := range cases {
				if c.want != tc.want {
					assert.NotErrorIs(t, f, c.want)
				}
			}
			assert.Equal(t, QName{NSSOAP, "Sender"}, f.Code)
			assert.Equal(t, "reason text", f.Reason)
			// The accessors of other kinds give the fault as their error.
			_, err = msg.Instance()
			assert.ErrorIs(t, err, tc.want)
		})
	}
}

func TestFaultSubcodeResolvedByNamespaceNotPrefix(t *testing.T) {
	// "e" here is the addressing namespace: the subcode is addressing's
	// DestinationUnreachable, not a wsman fault.
	env := strings.Replace(faultEnvelope("x:AccessDenied", ""), `xmlns:a=`, `xmlns:x="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:a=`, 1)
	msg, err := ParseMessage([]byte(env))
	require.NoError(t, err)
	f := msg.Fault()
	require.NotNil(t, f)
	assert.NotErrorIs(t, f, ErrAccessDenied, "AccessDenied in the addressing namespace is not wsman's")
}

func TestFaultPTStatus(t *testing.T) {
	msg, err := ParseMessage([]byte(faultEnvelope("e:InternalError", "<e:FaultDetail>AMT-STATUS 2068</e:FaultDetail>")))
	require.NoError(t, err)
	f := msg.Fault()
	require.NotNil(t, f)
	assert.True(t, f.HasPTStatus)
	assert.Equal(t, 2068, f.PTStatus)
	assert.Contains(t, f.Error(), "NOT_FOUND")
	assert.ErrorIs(t, f, ErrInternalError)
}

func TestParsePTStatus(t *testing.T) {
	for in, want := range map[string]int{"AMT-STATUS 32": 32, "x AMT-STATUS: 0x820 y": 0x820, "AMT-STATUS=16": 16} {
		got, ok := parsePTStatus(in)
		assert.True(t, ok, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "AMT-STATUS", "AMT-STATUS x", "AMT-STATUS -1", "AMT-STATUS 99999999999"} {
		_, ok := parsePTStatus(in)
		assert.False(t, ok, in)
	}
}

func TestReturnValueError(t *testing.T) {
	e := &ReturnValueError{Class: "AMT_SetupAndConfigurationService", Method: "Unprovision", Code: 2076}
	assert.Contains(t, e.Error(), "BLOCKING_COMPONENT")
	code, ok := e.PTStatus()
	assert.True(t, ok)
	assert.Equal(t, 2076, code)

	e = &ReturnValueError{Class: "CIM_PowerManagementService", Method: "RequestPowerStateChange", Code: 2}
	assert.Contains(t, e.Error(), "Unknown or Unspecified Error")
	_, ok = e.PTStatus()
	assert.False(t, ok)

	e = &ReturnValueError{Class: "CIM_BootService", Method: "SetBootConfigRole", Code: 32768 + 2081}
	assert.Contains(t, e.Error(), "USER_CONSENT_REQUIRED")
	code, ok = e.PTStatus()
	assert.True(t, ok)
	assert.Equal(t, 2081, code)

	assert.Equal(t, "PT_STATUS_77", PTStatusName(77))
}

func TestMalformedMessages(t *testing.T) {
	get := `<?xml version="1.0"?><a:Envelope xmlns:a="http://www.w3.org/2003/05/soap-envelope" xmlns:g="urn:x"><a:Header/><a:Body><g:X><g:P>1</g:P></g:X></a:Body></a:Envelope>`
	cases := map[string]string{
		"empty":        "",
		"not xml":      "<html><body>Bad Request</body></html",
		"truncated":    get[:len(get)/2],
		"wrong root":   `<Envelope xmlns="urn:not-soap"><Body/></Envelope>`,
		"no body":      `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header/></s:Envelope>`,
		"binary":       "\x00\x01\x02\xff\xfe",
		"entity":       `<!DOCTYPE x [<!ENTITY a "aaaa">]><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>&a;</s:Body></s:Envelope>`,
		"unclosed tag": `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><x>`,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseMessage([]byte(in))
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrMalformedResponse)
		})
	}
	msg, err := ParseMessage([]byte(get))
	require.NoError(t, err)
	_, err = msg.Pull()
	assert.ErrorIs(t, err, ErrMalformedResponse, "a Get body is not a PullResponse")
	_, err = msg.EnumerationContext()
	assert.ErrorIs(t, err, ErrMalformedResponse)
	_, err = msg.Identity()
	assert.ErrorIs(t, err, ErrMalformedResponse)
	_, err = msg.ResourceCreated()
	assert.ErrorIs(t, err, ErrMalformedResponse)
}

func TestPullWithoutContextOrEnd(t *testing.T) {
	env := `<a:Envelope xmlns:a="http://www.w3.org/2003/05/soap-envelope" xmlns:g="` + NSEnumeration + `"><a:Body><g:PullResponse><g:Items/></g:PullResponse></a:Body></a:Envelope>`
	msg, err := ParseMessage([]byte(env))
	require.NoError(t, err)
	_, err = msg.Pull()
	assert.ErrorIs(t, err, ErrMalformedResponse)
}

func TestDeeplyNestedValueRejected(t *testing.T) {
	inner := strings.Repeat("<x:n>", 200) + "v" + strings.Repeat("</x:n>", 200)
	env := `<a:Envelope xmlns:a="http://www.w3.org/2003/05/soap-envelope" xmlns:x="urn:x"><a:Body><x:C><x:P>` + inner + `</x:P></x:C></a:Body></a:Envelope>`
	_, err := ParseMessage([]byte(env))
	assert.ErrorIs(t, err, ErrMalformedResponse)

	inner = strings.Repeat("<x:n>", 40) + "v" + strings.Repeat("</x:n>", 40)
	env = `<a:Envelope xmlns:a="http://www.w3.org/2003/05/soap-envelope" xmlns:x="urn:x"><a:Body><x:C><x:P>` + inner + `</x:P></x:C></a:Body></a:Envelope>`
	msg, err := ParseMessage([]byte(env))
	require.NoError(t, err)
	_, err = msg.Instance()
	assert.ErrorIs(t, err, ErrMalformedResponse, "a property value nested deeper than values ever are")
}

func TestInstanceAccessors(t *testing.T) {
	in := &Instance{Class: "C", Properties: []Property{{Name: "B", Value: "true"}, {Name: "D", Value: "x"}, {Name: "N", Value: "42"}}}
	in.Set("C", "1", "2")
	assert.Equal(t, []string{"B", "C", "C", "D", "N"}, names(in), "a new property goes where byte order puts it")
	in.Set("B", "false")
	assert.Equal(t, []string{"B", "C", "C", "D", "N"}, names(in), "an existing property keeps its place")
	in.Set("A0")
	assert.False(t, in.Has("A0"))
	in.Remove("C")
	assert.Equal(t, []string{"B", "D", "N"}, names(in))
	n, err := in.Uint("N")
	require.NoError(t, err)
	assert.EqualValues(t, 42, n)
	_, err = in.Uint("D")
	assert.ErrorIs(t, err, ErrMalformedResponse)
	_, err = in.Uint("missing")
	assert.True(t, errors.Is(err, ErrNoProperty))
	b, err := in.Bool("B")
	require.NoError(t, err)
	assert.False(t, b)
	cl := in.Clone()
	cl.Set("N", "7")
	assert.Equal(t, "42", in.String("N"), "a clone is independent")
}

func names(in *Instance) []string {
	var out []string
	for _, p := range in.Properties {
		out = append(out, p.Name)
	}
	return out
}

func TestParseFingerprint(t *testing.T) {
	h := strings.Repeat("ab", 32)
	b, err := ParseFingerprint(strings.ToUpper(h))
	require.NoError(t, err)
	assert.Len(t, b, 32)
	colons := strings.TrimSuffix(strings.Repeat("AB:", 32), ":")
	_, err = ParseFingerprint(colons)
	require.NoError(t, err)
	for _, bad := range []string{"", "abc", strings.Repeat("zz", 32), strings.Repeat("ab", 31)} {
		_, err := ParseFingerprint(bad)
		assert.Error(t, err, bad)
	}
}
