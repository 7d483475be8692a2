package wsman_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/internal/recordings"
	"github.com/amtkit/amtkit/wsman"
)

// TestDecodeRecordings decodes every real firmware response in the
// recordings with the decoder its action calls for.
func TestDecodeRecordings(t *testing.T) {
	dir := recordings.Dir(t)
	files := recordings.Responses(t, dir)
	require.NotEmpty(t, files)
	counts := map[string]int{}
	for _, rel := range files {
		t.Run(rel, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, rel))
			require.NoError(t, err)
			msg, err := wsman.ParseMessage(data)
			require.NoError(t, err)
			action := msg.Action
			if i := strings.LastIndexByte(action, '/'); i >= 0 {
				action = action[i+1:]
			}
			if f := msg.Fault(); f != nil {
				counts["fault"]++
				assert.NotEmpty(t, f.Subcode.Space, "fault subcode prefix resolved to a namespace")
				assert.NotEmpty(t, f.Reason)
				matched := false
				for _, s := range []error{wsman.ErrDestinationUnreachable, wsman.ErrAlreadyExists, wsman.ErrAccessDenied, wsman.ErrInvalidSelectors, wsman.ErrActionNotSupported, wsman.ErrInternalError} {
					matched = matched || errors.Is(f, s)
				}
				assert.True(t, matched, "fault %v matches a sentinel", f.Subcode)
				return
			}
			switch {
			case action == "EnumerateResponse":
				counts[action]++
				ctx, err := msg.EnumerationContext()
				require.NoError(t, err)
				assert.NotEmpty(t, ctx)
			case action == "PullResponse":
				counts[action]++
				page, err := msg.Pull()
				require.NoError(t, err)
				assert.True(t, page.End || page.Context != "", "a page either ends or continues")
				for _, in := range page.Items {
					assert.NotEmpty(t, in.Class)
				}
			case action == "CreateResponse":
				counts[action]++
				ref, err := msg.ResourceCreated()
				require.NoError(t, err)
				assert.NotEmpty(t, ref.ResourceURI)
			case action == "DeleteResponse", action == "ReleaseResponse", action == "PutResponse" && !msg.HasBody():
				counts[action]++
			case strings.HasSuffix(action, "Response") || action == "":
				counts["instance"]++
				in, err := msg.Instance()
				require.NoError(t, err)
				assert.NotEmpty(t, in.Class)
				if strings.HasSuffix(in.Class, "_OUTPUT") {
					if v, ok := in.Get("ReturnValue"); ok {
						assert.NotEmpty(t, v)
					}
				}
			case msg.HasBody():
				// Some captures carry the request's action; the body is
				// still a method output or an instance.
				counts["instance"]++
				_, err := msg.Instance()
				require.NoError(t, err)
			default:
				counts["empty"]++
			}
		})
	}
	t.Logf("decoded: %v", counts)
}

func TestDecodeGeneralSettingsRecording(t *testing.T) {
	dir := recordings.Dir(t)
	data, err := os.ReadFile(filepath.Join(dir, "AMT_GeneralSettings", "GetResponse__gwm__1.resp.xml"))
	require.NoError(t, err)
	msg, err := wsman.ParseMessage(data)
	require.NoError(t, err)
	assert.Equal(t, wsman.ActionGet+"Response", msg.Action)
	in, err := msg.Instance()
	require.NoError(t, err)
	assert.Equal(t, "AMT_GeneralSettings", in.Class)
	assert.Equal(t, wsman.PrefixAMT+"AMT_GeneralSettings", in.ResourceURI)
	assert.Equal(t, "Digest:F3EB554784E729164447A89F60B641C5", in.String("DigestRealm"))
	n, err := in.Uint("DDNSTTL")
	require.NoError(t, err)
	assert.EqualValues(t, 900, n)
	b, err := in.Bool("SharedFQDN")
	require.NoError(t, err)
	assert.True(t, b)
}

func TestDecodeComputerSystemPackageRecording(t *testing.T) {
	dir := recordings.Dir(t)
	data, err := os.ReadFile(filepath.Join(dir, "CIM_ComputerSystemPackage", "GetResponse__gwm__1.resp.xml"))
	require.NoError(t, err)
	msg, err := wsman.ParseMessage(data)
	require.NoError(t, err)
	in, err := msg.Instance()
	require.NoError(t, err)
	ref, ok := in.Ref("Dependent")
	require.True(t, ok)
	assert.Equal(t, wsman.PrefixCIM+"CIM_ComputerSystem", ref.ResourceURI)
	name, ok := ref.Selector("Name")
	assert.True(t, ok)
	assert.Equal(t, "ManagedSystem", name)
	assert.Equal(t, "13AEE355D2BFBB6117A088AEDD7037EA", in.String("PlatformGUID"))
}

func TestDecodeFaultRecordings(t *testing.T) {
	dir := recordings.Dir(t)
	for file, want := range map[string]error{
		"Fault/DestinationUnreachable__gwm__1.resp.xml": wsman.ErrDestinationUnreachable,
		"Fault/AlreadyExists__rps__1.resp.xml":          wsman.ErrAlreadyExists,
	} {
		data, err := os.ReadFile(filepath.Join(dir, file))
		require.NoError(t, err)
		msg, err := wsman.ParseMessage(data)
		require.NoError(t, err)
		f := msg.Fault()
		require.NotNil(t, f, file)
		assert.ErrorIs(t, f, want, file)
		assert.Equal(t, wsman.NSSOAP, f.Code.Space)
		assert.Equal(t, "Sender", f.Code.Local)
	}
}
